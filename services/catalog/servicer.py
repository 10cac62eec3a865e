"""The CatalogService servicer: the RPC mixins over the generated base class.

To add a group of RPCs, write a mixin in `services/catalog/rpc/` (async
methods named like the RPCs; errors are the interceptor's business) and put it in
front of the generated base in `CatalogServicer`'s bases. Anything it needs
beyond `settings` and `sessions` (a bus connection, an object store) becomes
a keyword argument here and an attribute the mixin declares.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backtest.v1 import catalog_pb2, catalog_pb2_grpc
from services.adapters.object_store import LazyObjectStore
from services.catalog.execution.service import ExecutionService
from services.catalog.market_data import MarketData
from services.catalog.rpc.backtests import BacktestsMixin
from services.catalog.rpc.execution import ExecutionMixin
from services.catalog.rpc.grid_search import GridSearchMixin
from services.catalog.rpc.market_data import MarketDataRpc
from services.catalog.rpc.signal_logic import SignalLogicMixin
from services.catalog.rpc.signal_plugins import SignalPluginsMixin
from services.catalog.rpc.strategies import StrategiesMixin
from services.catalog.rpc.sweeps import SweepsMixin
from services.catalog.rpc.tasks import TasksMixin
from services.catalog.settings import CatalogSettings
from services.kit.grpc_server import Registration

SERVICE_NAME = catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name


class CatalogServicer(
    StrategiesMixin,
    BacktestsMixin,
    ExecutionMixin,
    TasksMixin,
    SweepsMixin,
    GridSearchMixin,
    MarketDataRpc,
    SignalLogicMixin,
    SignalPluginsMixin,
    catalog_pb2_grpc.CatalogServiceServicer,
):
    """Serves every CatalogService RPC."""

    def __init__(
        self,
        *,
        settings: CatalogSettings,
        sessions: async_sessionmaker[AsyncSession],
        execution: ExecutionService,
        market_data: MarketData,
        artifact_store: LazyObjectStore,
    ) -> None:
        """Wires the servicer to what its RPCs use.

        settings: the process configuration; sessions: factory of database sessions;
        execution: run dispatch; market_data: the series index and store; artifact_store: where run
        artifacts live (a delete may remove them).
        """
        self.settings = settings
        self.sessions = sessions
        self.execution = execution
        self.market_data = market_data
        self.artifact_store = artifact_store

    def registration(self) -> Registration:
        """What GrpcService needs to serve this servicer."""
        return (catalog_pb2_grpc.add_CatalogServiceServicer_to_server, self, SERVICE_NAME)
