"""Signal-logic RPCs: create, list, get, update (a new version), delete unless referenced."""

from __future__ import annotations

from collections.abc import AsyncIterator

from google.protobuf import empty_pb2
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backtest.v1 import signals_pb2
from services.catalog import convert
from services.catalog.repository import signal_logic
from services.domain.commands import Page, parse_id
from services.domain.signal_logic import NewSignalLogic, SignalLogicPatch
from services.kit.status import set_http_code


class SignalLogicMixin:
    """CreateSignalLogic, ListSignalLogic, GetSignalLogic, UpdateSignalLogic and DeleteSignalLogic."""

    sessions: async_sessionmaker[AsyncSession]

    async def CreateSignalLogic(
        self, request: signals_pb2.CreateSignalLogicRequest, context
    ) -> signals_pb2.SignalLogic:
        new = NewSignalLogic.of(convert.signal_logic_fields(request))
        async with self.sessions.begin() as session:
            row = await signal_logic.create(session, new)
        await set_http_code(context, 201)
        return convert.signal_logic_message(row)

    async def ListSignalLogic(
        self, request: signals_pb2.ListSignalLogicRequest, context
    ) -> AsyncIterator[signals_pb2.SignalLogic]:
        page = Page.of(convert.page_fields(request))
        # At most MAX_LIMIT rows: read them all, release the connection, then stream.
        async with self.sessions() as session:
            rows = await signal_logic.list_page(session, page)
        for row in rows:
            yield convert.signal_logic_message(row)

    async def GetSignalLogic(self, request: signals_pb2.GetSignalLogicRequest, context) -> signals_pb2.SignalLogic:
        logic_id = parse_id("signal_logic_id", request.signal_logic_id)
        async with self.sessions() as session:
            row = await signal_logic.get(session, logic_id)
        return convert.signal_logic_message(row)

    async def UpdateSignalLogic(
        self, request: signals_pb2.UpdateSignalLogicRequest, context
    ) -> signals_pb2.SignalLogic:
        logic_id = parse_id("signal_logic_id", request.signal_logic_id)
        fields = convert.signal_logic_fields(request)
        async with self.sessions.begin() as session:
            patch = SignalLogicPatch.of(fields, await signal_logic.current_version(session, logic_id))
            row = await signal_logic.update_fields(session, logic_id, patch)
        return convert.signal_logic_message(row)

    async def DeleteSignalLogic(self, request: signals_pb2.DeleteSignalLogicRequest, context) -> empty_pb2.Empty:
        logic_id = parse_id("signal_logic_id", request.signal_logic_id)
        async with self.sessions.begin() as session:
            await signal_logic.delete_unreferenced(session, logic_id)
        await set_http_code(context, 204)
        return empty_pb2.Empty()
