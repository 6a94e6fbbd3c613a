//! Lambda wiring only (the one way: `composition::lambda`): API Gateway proxy events and direct
//! invocations, both handled by `SimulatorLambda`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    composition::lambda::serve_events::<order_simulator::SimulatorLambda>().await
}
