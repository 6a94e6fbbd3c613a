"""scripts/preflight, one test per check, each failing and passing: against answers shaped as
AWS documents them (a fake CLI answering from a table), and against moto where moto answers
(API Gateway's account, Cognito's domains, Lambda's function concurrency).

Run: .venv-tools/bin/python -m unittest discover -s scripts/tests (scripts/test does)."""
import importlib.machinery
import importlib.util
import io
import json
import os
import stat
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
loader = importlib.machinery.SourceFileLoader("preflight", os.path.join(HERE, "..", "preflight"))
spec = importlib.util.spec_from_loader("preflight", loader)
preflight = importlib.util.module_from_spec(spec)
loader.exec_module(preflight)

MAIN_TF = '''module "delivery" {
  source               = "../../modules/delivery"
  name                 = "delivery-prod"
  reserved_concurrency = { "order-simulator" = 2 }
}
'''
CARRIERS = '[{ id = "c1", name = "Fast Co", phone = "+15555550100", active = true }]'

# The answers of a new account, as each API's reference documents their shape.
NEW_ACCOUNT = {
    "pinpoint-sms-voice-v2 describe-spend-limits": {"SpendLimits": [
        {"Name": "TEXT_MESSAGE_MONTHLY_SPEND_LIMIT", "EnforcedLimit": 1, "MaxLimit": 1, "Overridden": False},
        {"Name": "VOICE_MESSAGE_MONTHLY_SPEND_LIMIT", "EnforcedLimit": 1, "MaxLimit": 1, "Overridden": False}]},
    "sns get-sms-sandbox-account-status": {"IsInSandbox": True},
    "sns list-sms-sandbox-phone-numbers": {"PhoneNumbers": []},
    "pinpoint-sms-voice-v2 describe-phone-numbers": {"PhoneNumbers": []},
    "lambda get-account-settings": {"AccountLimit": {"TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000,
                                                     "CodeSizeZipped": 52428800, "ConcurrentExecutions": 10,
                                                     "UnreservedConcurrentExecutions": 10},
                                    "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": 0}},
    "lambda get-function-concurrency": {},
    "apigateway get-account": {"throttleSettings": {"burstLimit": 5000, "rateLimit": 10000.0}, "features": ["UsagePlans"]},
    "sts get-caller-identity": {"UserId": "AIDA", "Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/x"},
    "cognito-idp describe-user-pool-domain": {"DomainDescription": {}},
}

# The same account once ready for production.
READY = dict(NEW_ACCOUNT, **{
    "pinpoint-sms-voice-v2 describe-spend-limits": {"SpendLimits": [
        {"Name": "TEXT_MESSAGE_MONTHLY_SPEND_LIMIT", "EnforcedLimit": 100, "MaxLimit": 1000, "Overridden": True}]},
    "sns get-sms-sandbox-account-status": {"IsInSandbox": False},
    "pinpoint-sms-voice-v2 describe-phone-numbers": {"PhoneNumbers": [
        {"PhoneNumberArn": "arn:aws:sms-voice:us-east-1:123456789012:phone-number/phone-1", "PhoneNumberId": "phone-1",
         "PhoneNumber": "+18005550100", "Status": "ACTIVE", "IsoCountryCode": "US", "MessageType": "TRANSACTIONAL",
         "NumberCapabilities": ["SMS"], "NumberType": "TOLL_FREE", "MonthlyLeasingPrice": "2.00",
         "TwoWayEnabled": False, "SelfManagedOptOutsEnabled": False, "OptOutListName": "Default",
         "DeletionProtectionEnabled": False, "CreatedTimestamp": "2026-11-01T00:00:00Z"}]},
    "lambda get-account-settings": {"AccountLimit": {"ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 1000}},
    "apigateway get-account": {"cloudwatchRoleArn": "arn:aws:iam::123456789012:role/delivery-dev-apigateway-logs"},
})


def fake_cli(answers):
    """A fake `aws` answering from `answers` by "SERVICE OPERATION"; a missing one is an error."""
    folder = tempfile.mkdtemp()
    table = os.path.join(folder, "answers.json")
    with open(table, "w") as f:
        json.dump(answers, f)
    program = os.path.join(folder, "aws")
    with open(program, "w") as f:
        f.write(f"""#!{sys.executable}
import json, sys
answers = json.load(open({table!r}))
key = " ".join(sys.argv[1:3])
if key not in answers:
    print("An error occurred (AccessDeniedException) when calling " + key, file=sys.stderr)
    sys.exit(254)
print(json.dumps(answers[key]))
""")
    os.chmod(program, os.stat(program).st_mode | stat.S_IXUSR)
    return program


def settings(**environ):
    base = {"TF_VAR_sms_monthly_spend_limit": "1", "TF_VAR_carriers": CARRIERS,
            "TF_VAR_manage_account_settings": "true", "TF_VAR_enable_cognito": "false"}
    base.update(environ)
    return preflight.Settings("prod", MAIN_TF, base)


class Check(unittest.TestCase):
    def answer(self, answers, check, s=None):
        os.environ["PREFLIGHT_AWS"] = fake_cli(answers)
        return check(s or settings())

    def failing(self, answers, check, s=None, says=""):
        ok, said = self.answer(answers, check, s)
        self.assertFalse(ok, said)
        problem, fix = said
        self.assertIn(says, problem)
        self.assertTrue(fix)
        return problem

    def passing(self, answers, check, s=None):
        ok, said = self.answer(answers, check, s)
        self.assertTrue(ok, said)
        return said


class Settings(unittest.TestCase):
    def test_reads_the_environment_and_the_carriers(self):
        s = settings(TF_VAR_cognito='{ integrations = ["acme"], domain_prefix = "shop-login" }')
        self.assertEqual(s.name, "delivery-prod")
        self.assertEqual(s.reserved, {"order-simulator": 2})
        self.assertEqual(s.domain_prefix, "shop-login")
        self.assertEqual(s.carriers, [{"phone": "+15555550100", "active": True}])
        self.assertEqual(preflight.parse_carriers('[{"id": "a", "phone": "+4915112345678", "active": false}]'),
                         [{"phone": "+4915112345678", "active": False}])


class Carriers(Check):
    def test_none_active_fails(self):
        self.failing({}, preflight.check_carriers, settings(TF_VAR_carriers="[]"), "no active carrier")
        inactive = CARRIERS.replace("active = true", "active = false")
        self.failing({}, preflight.check_carriers, settings(TF_VAR_carriers=inactive), "no active carrier")

    def test_one_active_passes(self):
        self.passing({}, preflight.check_carriers)


class SmsSpend(Check):
    def test_a_limit_over_the_quota_fails(self):
        self.failing(NEW_ACCOUNT, preflight.check_sms_spend, settings(TF_VAR_sms_monthly_spend_limit="50"),
                     "exceeds the account's SMS spend quota of 1 USD")

    def test_a_limit_not_in_whole_dollars_fails(self):
        self.failing(READY, preflight.check_sms_spend, settings(TF_VAR_sms_monthly_spend_limit="2.5"), "whole number")

    def test_a_limit_within_the_quota_passes(self):
        self.passing(NEW_ACCOUNT, preflight.check_sms_spend)
        self.passing(READY, preflight.check_sms_spend, settings(TF_VAR_sms_monthly_spend_limit="1000"))


class SmsSandbox(Check):
    def test_in_the_sandbox_with_an_unverified_carrier_fails(self):
        self.failing(NEW_ACCOUNT, preflight.check_sms_sandbox, says="+15555550100 is not")

    def test_in_the_sandbox_with_every_carrier_verified_passes(self):
        verified = dict(NEW_ACCOUNT, **{"sns list-sms-sandbox-phone-numbers": {"PhoneNumbers": [
            {"PhoneNumber": "+15555550100", "Status": "Verified"}]}})
        self.passing(verified, preflight.check_sms_sandbox)

    def test_out_of_the_sandbox_passes(self):
        self.passing(READY, preflight.check_sms_sandbox)


class SmsOrigination(Check):
    def test_a_us_carrier_without_an_origination_identity_fails(self):
        self.failing(NEW_ACCOUNT, preflight.check_sms_origination, says="US or CA")

    def test_a_us_toll_free_number_passes(self):
        self.passing(READY, preflight.check_sms_origination)

    def test_carriers_elsewhere_need_none(self):
        german = settings(TF_VAR_carriers='[{ id = "c", name = "n", phone = "+4915112345678", active = true }]')
        self.passing(NEW_ACCOUNT, preflight.check_sms_origination, german)


class SmsRate(Check):
    def test_names_the_identities_and_their_rate(self):
        said = self.passing(READY, preflight.check_sms_rate)
        self.assertIn("TOLL_FREE", said)
        self.assertIn("3 texts a second", said)

    def test_an_account_that_cannot_be_asked_fails(self):
        os.environ["PREFLIGHT_AWS"] = fake_cli({})
        out = io.StringIO()
        self.assertFalse(preflight.run(settings(), out))
        self.assertIn("FAIL sms-rate: the account could not be asked", out.getvalue())

    def test_a_sale_past_the_toll_free_rate_fails(self):
        sale = settings(TF_VAR_sale='{ start = "2026-11-27T08:00:00Z", end = "2026-11-27T20:00:00Z", peak_orders_per_second = 40 }')
        self.assertEqual(sale.sale_peak, 40)
        self.failing(READY, preflight.check_sms_rate, sale, says="needs 40 texts a second; 1 toll-free number(s) carry 3")

    def test_a_sale_within_the_rate_passes(self):
        sale = settings(TF_VAR_sale='{ start = "2026-11-27T08:00:00Z", end = "2026-11-27T20:00:00Z", peak_orders_per_second = 3 }')
        self.passing(READY, preflight.check_sms_rate, sale)


class LambdaConcurrency(Check):
    def test_a_new_accounts_ten_cannot_reserve(self):
        self.failing(NEW_ACCOUNT, preflight.check_lambda_concurrency, says="would leave 8 unreserved of the account's 10")

    def test_a_raised_quota_can(self):
        self.passing(READY, preflight.check_lambda_concurrency)

    def test_a_redeploy_counts_its_own_reservation_back(self):
        tight = dict(READY, **{
            "lambda get-account-settings": {"AccountLimit": {"ConcurrentExecutions": 102, "UnreservedConcurrentExecutions": 100}},
            "lambda get-function-concurrency": {"ReservedConcurrentExecutions": 2}})
        self.passing(tight, preflight.check_lambda_concurrency)

    def test_nothing_reserved_passes_anywhere(self):
        dev = preflight.Settings("dev", MAIN_TF.replace('{ "order-simulator" = 2 }', "{}"), {})
        self.passing(NEW_ACCOUNT, preflight.check_lambda_concurrency, dev)


class ApiGatewayLogging(Check):
    def test_no_role_and_not_the_owner_fails(self):
        self.failing(NEW_ACCOUNT, preflight.check_apigateway_logging,
                     settings(TF_VAR_manage_account_settings="false"), "no logging role")

    def test_the_owner_or_a_role_set_passes(self):
        self.passing(NEW_ACCOUNT, preflight.check_apigateway_logging)
        self.passing(READY, preflight.check_apigateway_logging, settings(TF_VAR_manage_account_settings="false"))


class Names(Check):
    def test_a_name_too_long_for_the_imports_bucket_fails(self):
        long = preflight.Settings("prod", MAIN_TF.replace("delivery-prod", "delivery-production-eu-west-1"), {})
        self.failing({}, preflight.check_names, long, "does not fit")

    def test_the_default_names_pass(self):
        self.passing({}, preflight.check_names)


class CognitoDomain(Check):
    def test_a_prefix_with_a_reserved_word_fails(self):
        s = settings(TF_VAR_enable_cognito="true", TF_VAR_cognito='{ domain_prefix = "my-cognito-login" }')
        self.failing(NEW_ACCOUNT, preflight.check_cognito_domain, s, "not valid")

    def test_a_prefix_taken_by_another_pool_fails(self):
        taken = dict(NEW_ACCOUNT, **{
            "cognito-idp describe-user-pool-domain": {"DomainDescription": {
                "UserPoolId": "us-east-1_abc", "AWSAccountId": "999999999999", "Domain": "delivery-prod-123456789012",
                "Status": "ACTIVE"}}})
        self.failing(taken, preflight.check_cognito_domain, settings(TF_VAR_enable_cognito="true"), "taken")

    def test_a_free_prefix_passes(self):
        said = self.passing(NEW_ACCOUNT, preflight.check_cognito_domain, settings(TF_VAR_enable_cognito="true"))
        self.assertIn("delivery-prod-123456789012 is free", said)


class Whole(Check):
    def test_a_new_account_fails_and_a_ready_one_passes(self):
        os.environ["PREFLIGHT_AWS"] = fake_cli(NEW_ACCOUNT)
        out = io.StringIO()
        self.assertFalse(preflight.run(settings(), out))
        for line in ("FAIL sms-sandbox", "FAIL sms-origination", "FAIL lambda-concurrency", "ok   sms-spend"):
            self.assertIn(line, out.getvalue())
        os.environ["PREFLIGHT_AWS"] = fake_cli(READY)
        out = io.StringIO()
        self.assertTrue(preflight.run(settings(), out), out.getvalue())


class AgainstMoto(unittest.TestCase):
    """The checks moto answers, through the same CLI interface (tests/aws_on_boto3.py)."""

    @classmethod
    def setUpClass(cls):
        import logging
        from moto.server import ThreadedMotoServer
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        cls.server = ThreadedMotoServer(port=0, verbose=False)
        cls.server.start()
        host, port = cls.server.get_host_and_port()
        os.environ["MOTO_URL"] = f"http://{host}:{port}"
        import boto3
        cls.boto = staticmethod(lambda service: boto3.client(service, endpoint_url=os.environ["MOTO_URL"], region_name="us-east-1",
                                                aws_access_key_id="testing", aws_secret_access_key="testing"))

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        os.environ["PREFLIGHT_AWS"] = os.path.join(HERE, "aws_on_boto3.py")

    def test_apigateway_logging_role(self):
        s = settings(TF_VAR_manage_account_settings="false")
        ok, _ = preflight.check_apigateway_logging(s)
        self.assertFalse(ok)
        role = self.boto("iam").create_role(RoleName="delivery-dev-apigateway-logs", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        self.boto("apigateway").update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}])
        ok, said = preflight.check_apigateway_logging(s)
        self.assertTrue(ok, said)

    def test_cognito_domain_taken_or_ours(self):
        cognito = self.boto("cognito-idp")
        other = cognito.create_user_pool(PoolName="someone-else")["UserPool"]["Id"]
        cognito.create_user_pool_domain(Domain="shop-login", UserPoolId=other)
        s = settings(TF_VAR_enable_cognito="true", TF_VAR_cognito='{ domain_prefix = "shop-login" }')
        ok, said = preflight.check_cognito_domain(s)
        self.assertFalse(ok, said)
        ours = cognito.create_user_pool(PoolName="delivery-prod")["UserPool"]["Id"]
        cognito.create_user_pool_domain(Domain="prod-login", UserPoolId=ours)
        ok, said = preflight.check_cognito_domain(settings(TF_VAR_enable_cognito="true", TF_VAR_cognito='{ domain_prefix = "prod-login" }'))
        self.assertTrue(ok, said)
        ok, said = preflight.check_cognito_domain(settings(TF_VAR_enable_cognito="true", TF_VAR_cognito='{ domain_prefix = "free-login" }'))
        self.assertTrue(ok, said)


if __name__ == "__main__":
    unittest.main()
