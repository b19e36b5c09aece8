"""Client agent for hospitals: talks REST (httpx) to the aggregator.

- :class:`AggregatorClient` — sealed/signed transport with timeouts and retries.
- :class:`ClientAgent` — one round: download model → ``train_fn`` → clip → quantise →
  encrypt → prove → sign → seal → submit.
- :class:`AdminClient` — admin calls to the aggregator and the key authority.
"""

from .admin import AdminClient
from .agent import ClientAgent, RoundReport
from .transport import AggregatorClient, ProtocolError, RetryPolicy, ServerParams, SubmissionResult

__all__ = [
    "AdminClient",
    "AggregatorClient",
    "ClientAgent",
    "ProtocolError",
    "RetryPolicy",
    "RoundReport",
    "ServerParams",
    "SubmissionResult",
]
