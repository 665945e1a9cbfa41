"""CONTACTPOINT_ES_CA_CERTS: a cluster with security on (docker-compose) is reached over https with its own CA."""
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from search_service import make_client
from webapp.config import Settings


def _write_ca(path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_the_client_verifies_every_node_against_the_configured_ca_with_the_password(tmp_path):
    ca = tmp_path / "ca.crt"
    _write_ca(ca)
    settings = Settings.from_env({"CONTACTPOINT_ES_URL": "https://es01:9200,https://es02:9200",
                                  "CONTACTPOINT_ES_USERNAME": "elastic", "CONTACTPOINT_ES_PASSWORD": "pw",
                                  "CONTACTPOINT_ES_CA_CERTS": str(ca)})
    assert settings.es_ca_certs == str(ca)
    client = make_client(settings)
    try:
        nodes = client.transport.node_pool.all()
        assert len(nodes) == 2
        for node in nodes:
            assert node.config.scheme == "https" and node.config.verify_certs is not False
            assert node.config.ca_certs == str(ca)
        assert client._headers["authorization"].startswith("Basic ")
    finally:
        client.close()


def test_without_the_variable_the_client_keeps_the_system_trust_store():
    client = make_client(Settings.from_env({"CONTACTPOINT_ES_URL": "https://es01:9200"}))
    try:
        assert client.transport.node_pool.all()[0].config.ca_certs is None
    finally:
        client.close()


def test_a_missing_ca_file_is_refused_at_start_naming_the_variable(tmp_path):
    with pytest.raises(ValueError, match="CONTACTPOINT_ES_CA_CERTS must name a readable PEM file"):
        Settings.from_env({"CONTACTPOINT_ES_CA_CERTS": str(tmp_path / "nowhere.crt")})
