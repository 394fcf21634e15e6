"""LOCAL STUB (untracked): the real package comes from branch lualibs."""


def install(lua: object) -> None:
    lua.execute(  # type: ignore[attr-defined]
        "bit = {band = function(a, b) return 0 end} cjson = {} cmsgpack = {} struct = {}")
