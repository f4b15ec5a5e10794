"""One way to reach Temporal, shared by the API, the worker, the seed and the tests.

All of them must use the same data converter and codec, or none can read the others' payloads.
"""

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from codec import EncryptionCodec, KeyStore
from records.case_keys import CaseKeys
from records.database import Database
from settings import Settings


def data_converter(payload_key: str, case_keys: KeyStore | None = None) -> DataConverter:
    """Without case keys (tools that start no case) every payload is sealed with the master key."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(payload_key, case_keys),
        # Failure messages can quote data; encode them too, so history stays sealed.
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def case_converter(settings: Settings, database: Database) -> DataConverter:
    """The converter that seals each case's payloads with the case's own key."""
    keys = CaseKeys(database, settings.payload_key, settings.case_key_cache_seconds)
    return data_converter(settings.payload_key, keys)


def case_keys_of(client: Client) -> KeyStore | None:
    """The key store a client seals cases with, so a case's key is made with its row."""
    codec = client.data_converter.payload_codec
    return codec.case_keys if isinstance(codec, EncryptionCodec) else None


def with_case_keys(client: Client, settings: Settings, database: Database) -> Client:
    """The same connection, sealing each case with its own key."""
    return Client(
        client.service_client,
        namespace=client.namespace,
        data_converter=case_converter(settings, database),
    )


async def connect(settings: Settings, database: Database | None = None) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=(
            case_converter(settings, database)
            if database is not None
            else data_converter(settings.payload_key)
        ),
    )
