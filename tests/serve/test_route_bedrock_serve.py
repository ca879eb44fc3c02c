"""`slm serve --route LOCAL --upstream bedrock:MODEL_ID --region R` over real HTTP with the
openai client: escalations reach a fake Bedrock (the real wire format, via the standard
AWS_ENDPOINT_URL_BEDROCK_RUNTIME variable and made-up credentials in the environment)
with personal data masked by the guard first, and their cost lands in the ledger at the
price set by the aws.bedrock_prices override."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("boto3")

from helpers.fake_aws import DUMMY_KEY_ID, DUMMY_SECRET, FakeAws  # noqa: E402

pytestmark = pytest.mark.integration

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
EMAIL = "jane.doe@example.com"
PHONE = "010-1234-5678"


@pytest.fixture(scope="module")
def fake():
    server = FakeAws()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def routed(fake, default_model_ref, tmp_path_factory):
    from serve.conftest import ServerProcess

    logdir = tmp_path_factory.mktemp("serve-bedrock")
    prices = logdir / "bedrock-prices.json"
    prices.write_text(json.dumps({"anthropic.claude-3-5-haiku": [100.0, 200.0]}))
    env = {"AWS_ACCESS_KEY_ID": DUMMY_KEY_ID, "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET,
           "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": fake.url, "SLM_BEDROCK_PRICES": str(prices),
           "AWS_CONFIG_FILE": str(logdir / "none"), "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_SHARED_CREDENTIALS_FILE": str(logdir / "none")}
    ledger = logdir / "ledger.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.delenv("AWS_PROFILE", raising=False)
        mp.delenv("AWS_SESSION_TOKEN", raising=False)
        srv = ServerProcess(["--route", default_model_ref.name, "--upstream", f"bedrock:{MODEL}",
                             "--region", "us-west-2", "--ledger", str(ledger),
                             "--ctx", "1024", "--threads", "1", "--parallel", "1",
                             "--allow-remote-tag"], logdir, "routed-bedrock", "auto")
    try:
        srv.wait_ready()
        srv.ledger = ledger
        yield srv
    finally:
        srv.stop()


def test_personal_data_is_masked_before_bedrock_sees_it_and_restored_after(routed, fake):
    import openai

    from slmkit.route import Ledger

    fake.reset()
    client = openai.OpenAI(base_url=routed.url + "/v1", api_key="unused")
    text = f"#route:remote write to {EMAIL} or call {PHONE} about the invoice"
    reply = client.chat.completions.create(
        model="auto", max_tokens=64, temperature=0,
        messages=[{"role": "system", "content": "You write short mails."},
                  {"role": "user", "content": text}])
    answer = reply.choices[0].message.content
    assert answer.startswith("You said:") and EMAIL in answer and PHONE in answer
    (sent,) = fake.recording.requests
    assert "/model/" in sent["path"] and sent["path"].endswith("/converse-stream")
    assert "us-west-2/bedrock/aws4_request" in sent["headers"]["authorization"]
    body = json.dumps(sent["body"])
    assert EMAIL not in body and PHONE not in body and "<EMAIL_1>" in body
    assert sent["body"]["system"] == [{"text": "You write short mails."}]
    entries = [e for e in Ledger(routed.ledger).entries() if e.route == "remote"]
    assert entries and entries[-1].remote_model == f"bedrock:{MODEL}"
    e = entries[-1]
    assert e.masked >= 2 and e.remote_completion_tokens > 0
    assert e.remote_cost == pytest.approx(
        (e.remote_prompt_tokens * 100.0 + e.remote_completion_tokens * 200.0) / 1e6)


def test_streamed_escalation_and_the_bedrock_flags_are_checked(routed, fake, capsys):
    import openai

    from slmkit.cli.main import main

    fake.reset()
    client = openai.OpenAI(base_url=routed.url + "/v1", api_key="unused")
    stream = client.chat.completions.create(
        model="auto", max_tokens=64, stream=True,
        messages=[{"role": "user", "content": f"#route:remote mail {EMAIL} now"}])
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == f"You said: mail {EMAIL} now"
    assert EMAIL not in json.dumps(fake.recording.requests[0]["body"])
    assert main(["serve", "--route", "m", "--upstream", "bedrock:"]) != 0
    assert "name the bedrock model id" in capsys.readouterr().err
