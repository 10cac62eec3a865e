"""Our Lua filters run in LuaJIT (lupa), the runtime Envoy embeds, with a stand-in for Envoy's stream handle.

Loading a script runs its top level, as Envoy does when it loads the filter
config (`luaL_dostring`): an error there is a config Envoy refuses to start with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Just enough of Envoy's stream handle for our scripts: headers, a buffered
# body and respond(), recording what the script did.
HANDLE = """
local function header_map(initial)
  local map = {store = {}}
  for k, v in pairs(initial) do map.store[k] = v end
  function map:get(k) return self.store[k] end
  function map:remove(k) self.store[k] = nil end
  function map:replace(k, v) self.store[k] = v end
  function map:add(k, v) self.store[k] = v end
  return map
end

function make_handle(headers, body)
  local handle = {_headers = header_map(headers), body_bytes = body}
  function handle:headers() return self._headers end
  function handle:body()
    if self.body_bytes == nil then return nil end
    local buffer = {owner = self}
    function buffer:setBytes(s) self.owner.body_bytes = s end
    function buffer:length() return #self.owner.body_bytes end
    return buffer
  end
  function handle:respond(h, b) self.reply_headers = h; self.reply_body = b end
  return handle
end
"""


def load_script(path: Path) -> Any:
    """A fresh LuaJIT state with the stand-in handle and the script at `path` loaded (its top level run)."""
    from lupa import luajit21

    lua = luajit21.LuaRuntime()
    lua.execute(HANDLE)
    lua.execute(path.read_text())
    return lua


def on_response(lua: Any, headers: dict[str, str], body: str | None) -> tuple[dict[str, str], str | None]:
    """Runs envoy_on_response; the response headers and body after it."""
    handle = lua.globals().make_handle(lua.table_from(headers), body)
    lua.globals().envoy_on_response(handle)
    return dict(handle._headers.store.items()), handle.body_bytes


def on_request(lua: Any, headers: dict[str, str]) -> tuple[dict[str, str], Any]:
    """Runs envoy_on_request; the request headers after it, and the handle (reply_headers, reply_body)."""
    handle = lua.globals().make_handle(lua.table_from(headers), None)
    lua.globals().envoy_on_request(handle)
    return dict(handle._headers.store.items()), handle
