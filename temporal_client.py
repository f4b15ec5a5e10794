"""One way to reach Temporal, shared by the API, the worker, the seed and the tests.

All of them must use the same data converter and codec, or none can read the others' payloads.
"""

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from codec import EncryptionCodec
from settings import Settings


def data_converter(payload_key: str) -> DataConverter:
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(payload_key),
        # Failure messages can quote data; encode them too, so history stays sealed.
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings.payload_key),
    )
