"""JSON Schema clean-up for targets that accept only a subset (Gemini's OpenAPI-style Schema).

Gemini rejects `$schema`, `additionalProperties`, `exclusiveMinimum`, `$ref`, `const`, type arrays
and most string formats. `for_gemini` keeps the meaning where it can (inlines `$ref`, turns
`["string","null"]` into `nullable`, `const` into a one-value `enum`, `oneOf` into `anyOf`) and
drops only validation keywords the model never needed to produce a valid value.
"""

from __future__ import annotations

from typing import Any

_KEEP = {
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
}
_FORMATS = {"string": {"enum", "date-time"}, "integer": {"int32", "int64"}, "number": {"float", "double"}}
_MAX_DEPTH = 24


def for_gemini(schema: Any) -> dict:
    if not isinstance(schema, dict):
        return {"type": "object", "properties": {}}
    defs = {**(schema.get("definitions") or {}), **(schema.get("$defs") or {})}
    return _clean(schema, defs, 0, set())


def _resolve(ref: str, defs: dict) -> dict | None:
    for prefix in ("#/$defs/", "#/definitions/"):
        if ref.startswith(prefix):
            target = defs.get(ref[len(prefix) :])
            return target if isinstance(target, dict) else None
    return None


def _clean(node: Any, defs: dict, depth: int, seen: set[str]) -> dict:
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return {}
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = _resolve(ref, defs)
        if target is None or ref in seen:  # unknown or recursive: an open object is the honest fallback
            return {
                "type": "object",
                "description": node.get("description") or target and target.get("description") or "",
            }
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _clean(merged, defs, depth + 1, seen | {ref})
    node = dict(node)
    all_of = node.pop("allOf", None)
    if isinstance(all_of, list):
        for sub in all_of:
            sub = _clean(sub, defs, depth + 1, seen)
            for k, v in sub.items():
                if k == "properties":
                    node.setdefault("properties", {}).update(v)
                elif k == "required":
                    node["required"] = list(dict.fromkeys([*node.get("required", []), *v]))
                else:
                    node.setdefault(k, v)
    if "oneOf" in node and "anyOf" not in node:
        node["anyOf"] = node.pop("oneOf")
    if "const" in node and "enum" not in node:
        node["enum"] = [node["const"]]
    out: dict[str, Any] = {}
    t = node.get("type")
    if isinstance(t, list):
        kinds = [x for x in t if x != "null"]
        if "null" in t:
            out["nullable"] = True
        if len(kinds) == 1:
            t = kinds[0]
        else:
            out["anyOf"] = [{"type": k} for k in kinds]
            t = None
    if isinstance(t, str):
        out["type"] = t.lower()
    for key, val in node.items():
        if key not in _KEEP or key in ("type",):
            continue
        if key == "properties" and isinstance(val, dict):
            out["properties"] = {k: _clean(v, defs, depth + 1, seen) for k, v in val.items()}
        elif key == "items" and isinstance(val, dict):
            out["items"] = _clean(val, defs, depth + 1, seen)
        elif key == "anyOf" and isinstance(val, list):
            subs = [_clean(v, defs, depth + 1, seen) for v in val]
            nonnull = [s for s in subs if s.get("type") != "null"]
            if len(nonnull) < len(subs):
                out["nullable"] = True
            if len(nonnull) == 1 and "type" not in out:
                out.update(nonnull[0])
            elif nonnull:
                out["anyOf"] = nonnull
        elif key == "format":
            if val in _FORMATS.get(out.get("type", ""), set()):
                out["format"] = val
        elif key == "enum" and isinstance(val, list):
            if all(isinstance(v, str) for v in val):
                out["enum"] = val
                out.setdefault("type", "string")
        elif key == "required" and isinstance(val, list):
            out["required"] = val
        else:
            out[key] = val
    if "required" in out:
        props = out.get("properties") or {}
        out["required"] = [r for r in out["required"] if r in props]
        if not out["required"]:
            del out["required"]
    return out


def lower_types(schema: Any) -> Any:
    """Gemini `parameters` may spell types in upper case (OBJECT, STRING) and use `nullable`;
    JSON Schema wants lower-case types and a type list with "null"."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for k, v in schema.items():
        if k == "type" and isinstance(v, str):
            out[k] = v.lower()
        elif k == "nullable":
            continue
        elif k in ("properties", "$defs", "definitions") and isinstance(v, dict):
            out[k] = {name: lower_types(sub) for name, sub in v.items()}
        elif k in ("anyOf", "oneOf", "allOf", "prefixItems") and isinstance(v, list):
            out[k] = [lower_types(sub) for sub in v]
        elif k in ("items", "additionalProperties", "not") and isinstance(v, dict):
            out[k] = lower_types(v)
        else:
            out[k] = v
    if schema.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out
