//! The messaging ports on AWS: [`SqsQueue`] (the orders queue and its dead-letter queue),
//! [`SnsTopic`] (the `order-events` topic, with the `type` message attribute its subscription
//! filters on) and [`SnsSms`] (transactional SMS through SNS). Their clients and settings come
//! from the composition root (`crates/composition`).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_errors::classify;
use aws_sdk_sns::types::MessageAttributeValue as SnsAttribute;
use aws_sdk_sqs::types::{MessageAttributeValue as SqsAttribute, SendMessageBatchRequestEntry};
use domain::order::OrderEvent;
use domain::ports::{EventPublisher, OrderQueue, OutgoingMessage, SendFailure, SmsSender};
use domain::{OrderId, Phone, PortError};

/// SQS accepts at most 10 entries per `SendMessageBatch`.
pub const MAX_BATCH: usize = 10;

fn build_err(e: impl std::fmt::Display) -> PortError {
    PortError::Permanent(e.to_string())
}

/// The orders queue and its DLQ.
#[derive(Clone, Debug)]
pub struct SqsQueue {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub dlq_url: String,
}

fn string_attribute(value: &str) -> Result<SqsAttribute, PortError> {
    SqsAttribute::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(build_err)
}

#[async_trait]
impl OrderQueue for SqsQueue {
    async fn send_batch(
        &self,
        messages: &[OutgoingMessage],
    ) -> Result<Vec<SendFailure>, PortError> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        if messages.len() > MAX_BATCH {
            return Err(PortError::Permanent(format!(
                "a batch holds at most {MAX_BATCH} messages"
            )));
        }
        let entries = messages
            .iter()
            .map(|m| {
                SendMessageBatchRequestEntry::builder()
                    .id(&m.id)
                    .message_body(&m.body)
                    .build()
                    .map_err(build_err)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| classify("SendMessageBatch", e))?;
        Ok(out
            .failed()
            .iter()
            .map(|f| SendFailure {
                id: f.id().to_owned(),
                reason: format!("{}: {}", f.code(), f.message().unwrap_or_default()),
                // A sender fault (bad body, too large) will fail again; a service fault may not.
                transient: !f.sender_fault(),
            })
            .collect())
    }

    async fn dead_letter(&self, body: &str, reason: &str) -> Result<(), PortError> {
        // SQS refuses an empty body; the reason says what the message was.
        let body = if body.is_empty() {
            "(empty message)"
        } else {
            body
        };
        self.client
            .send_message()
            .queue_url(&self.dlq_url)
            .message_body(body)
            .message_attributes("reason", string_attribute(reason)?)
            .message_attributes("dead_lettered_by", string_attribute("order-processor")?)
            .send()
            .await
            .map_err(|e| classify("SendMessage", e))?;
        Ok(())
    }
}

/// The HTTP header of an X-Ray trace, which SQS and SNS pass on to their consumers.
pub const TRACE_HEADER: &str = "x-amzn-trace-id";

/// The `order-events` topic.
#[derive(Clone, Debug)]
pub struct SnsTopic {
    pub client: aws_sdk_sns::Client,
    pub topic_arn: String,
}

fn sns_string(value: &str) -> Result<SnsAttribute, PortError> {
    SnsAttribute::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(build_err)
}

#[async_trait]
impl EventPublisher for SnsTopic {
    async fn publish(&self, event: &OrderEvent) -> Result<(), PortError> {
        let message = serde_json::to_string(event).map_err(build_err)?;
        let publish = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(message)
            .message_attributes("type", sns_string(event.kind.as_str())?);
        // The order's own trace, when its handler has one (`telemetry::trace`): the SDK would
        // send the invocation's, which is a whole batch's. The SDK leaves a header it is given.
        let sent = match telemetry::trace::current() {
            Some(header) => {
                publish
                    .customize()
                    .mutate_request(move |request| {
                        request.headers_mut().insert(TRACE_HEADER, header.clone());
                    })
                    .send()
                    .await
            }
            None => publish.send().await,
        };
        sent.map_err(|e| classify("Publish", e))?;
        Ok(())
    }
}

/// Transactional SMS through SNS.
#[derive(Clone, Debug)]
pub struct SnsSms {
    pub client: aws_sdk_sns::Client,
}

#[async_trait]
impl SmsSender for SnsSms {
    async fn send(&self, to: &Phone, message: &str, order: OrderId) -> Result<(), PortError> {
        let attributes = HashMap::from([(
            "AWS.SNS.SMS.SMSType".to_owned(),
            sns_string("Transactional")?,
        )]);
        let out = self
            .client
            .publish()
            .phone_number(to.as_str())
            .message(message)
            .set_message_attributes(Some(attributes))
            .send()
            .await
            .map_err(|e| classify("Publish (SMS)", e))?;
        tracing::info!(order_id = %order, sns_message_id = out.message_id().unwrap_or_default(), "SMS sent");
        Ok(())
    }
}
