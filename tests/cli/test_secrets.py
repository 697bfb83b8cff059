"""Secret Kafka properties never appear in what ontoc prints; a malformed properties file exits 2."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ontoc.cli.cluster import _fail_cleanly, submit
from ontoc.runtime.cluster.errors import SubmitError
from ontoc.runtime.cluster.kafka import KafkaPropertiesError, parse_properties
from ontoc.secrets import MASK, is_secret, masked, redact

from ..conftest import DEFINITIONS

JAAS = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="hunter2-jaas";'
SECRETS = {
    "sasl.jaas.config": JAAS,
    "ssl.truststore.password": "s3cret-trust",
    "SSL.KEY.PASSWORD": "s3cret-key",
    "sasl.oauthbearer.token.endpoint.url": "https://idp.example/tok?x=s3cret-tok",
    "some.client.secret": "it's-s3cret",  # a quote: doubled in the SQL literal
}
PLAIN = {"security.protocol": "SASL_SSL", "ssl.truststore.location": "/etc/trust.jks"}


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("sasl.jaas.config", True),
        ("properties.sasl.jaas.config", True),
        ("ssl.key.password", True),
        ("ssl.truststore.PASSWORD", True),
        ("sasl.oauthbearer.token.endpoint.url", True),
        ("client.secret", True),
        ("security.protocol", False),
        ("ssl.truststore.location", False),
        ("sasl.mechanism", False),
    ],
)
def test_secret_names(name, secret):
    assert is_secret(name) is secret
    assert masked([(name, "v")]) == [(name, MASK if secret else "v")]


def test_redact_masks_remembered_values_only():
    parse_properties([f"{k}={v}" for k, v in {**SECRETS, **PLAIN}.items()])
    text = redact(
        f"failed with {JAAS} and '{SECRETS['some.client.secret'].replace(chr(39), chr(39) * 2)}' at /etc/trust.jks"
    )
    assert "hunter2" not in text and "s3cret" not in text and "/etc/trust.jks" in text and MASK in text


def test_dry_run_masks_every_secret_property(tmp_path):
    props = tmp_path / "client.properties"
    props.write_text(f"ssl.truststore.password={SECRETS['ssl.truststore.password']}\n", encoding="utf-8")
    args = [str(DEFINITIONS / "meeting_room"), "--dry-run", "--kafka-properties-file", str(props)]
    for k, v in {**SECRETS, **PLAIN}.items():
        args += ["--kafka-property", f"{k}={v}"]
    out = CliRunner().invoke(submit, args)
    assert out.exit_code == 0, out.output
    assert "hunter2" not in out.output and "s3cret" not in out.output, out.output
    assert f"'properties.sasl.jaas.config' = '{MASK}'" in out.output
    assert f"'properties.ssl.truststore.password' = '{MASK}'" in out.output
    assert "'properties.ssl.truststore.location' = '/etc/trust.jks'" in out.output  # not a secret


def test_malformed_properties_file_exits_2_naming_the_line_not_its_text(tmp_path):
    props = tmp_path / "client.properties"
    props.write_text(
        "# comment\nsecurity.protocol=SASL_SSL\nsasl.jaas.config=a \\\n  b\n\nssl.key.password hunter2-line\n",
        encoding="utf-8",
    )
    with pytest.raises(KafkaPropertiesError, match="line 6 is not"):
        parse_properties([], props)
    out = CliRunner().invoke(
        submit, [str(DEFINITIONS / "meeting_room"), "--dry-run", "--kafka-properties-file", str(props)]
    )
    assert out.exit_code == 2, out.output
    assert "line 6" in out.output and "hunter2" not in out.output, out.output

    bad = CliRunner().invoke(submit, [str(DEFINITIONS / "meeting_room"), "--dry-run", "--kafka-property", "hunter2-x"])
    assert bad.exit_code == 2 and "hunter2" not in bad.output and "the 1st one is not" in bad.output, bad.output

    props.write_bytes(b"ssl.key.password=\xff\n")
    not_utf8 = CliRunner().invoke(
        submit, [str(DEFINITIONS / "meeting_room"), "--dry-run", "--kafka-properties-file", str(props)]
    )
    assert not_utf8.exit_code == 2 and "not UTF-8" in not_utf8.output, not_utf8.output


def test_errors_and_details_are_redacted(capsys):
    parse_properties([f"ssl.key.password={SECRETS['SSL.KEY.PASSWORD']}"])

    @_fail_cleanly
    def fails(verbose: bool = True) -> None:
        raise SubmitError(
            f"Flink rejected 'properties.ssl.key.password' = '{SECRETS['SSL.KEY.PASSWORD']}'", "trace s3cret-key"
        )

    with pytest.raises(SystemExit) as exit_info:
        fails(verbose=True)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "s3cret" not in err and err.count(MASK) == 2, err
