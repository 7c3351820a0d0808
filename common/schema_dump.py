"""marshmallow's `Schema.dump` of a mapping, compiled once per schema into plain calls.

`Schema.dump` finds each field's value through an accessor and formats it through a
chain of method calls, for every field of every object: for a client that is most of
what answering it from the read model costs (py-spy under `python -m bench.reads`),
and a page of the list pays it fifty times. The schemas dumped on those paths use a
few field kinds whose dump is a plain conversion (text, a number, a date's ISO form, a
list, a nested object, a copied mapping), so `compiled_dump` turns each field into that
conversion once and then does only those.

It is not a second definition of the output: it reads the same schema and follows the
`_serialize` of each field kind as marshmallow defines it. A field whose kind (its
`_serialize` method), name mapping (`attribute`, `data_key`), default or the schema's
dump hooks it does not know is refused when compiled, never dumped differently;
`tests/unit/test_schema_dump.py` holds its output to `Schema.dump`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from marshmallow import Schema, fields, missing, utils
from marshmallow.decorators import POST_DUMP, PRE_DUMP

Convert = Callable[[Any], Any]
Dump = Callable[[Mapping[str, Any]], dict[str, Any]]

_ABSENT: Final = object()


class UncompilableSchema(TypeError):
    """A schema uses something `compiled_dump` does not reproduce."""


def _same(value: Any) -> Any:
    return value


def _converter(name: str, field: fields.Field[Any]) -> Convert:
    """The conversion of one non-null value, as the field's `_serialize` does it."""
    serialize: object = type(field)._serialize
    if serialize is fields.Field._serialize:  # Boolean, Raw: the value as it is
        return _same
    if serialize is fields.String._serialize:
        return _text
    if serialize is fields.Number._serialize and isinstance(field, fields.Number) \
            and not field.as_string and type(field)._format_num is fields.Number._format_num:
        return field.num_type
    if serialize is fields.DateTime._serialize and isinstance(field, fields.DateTime):
        data_format = field.format or field.DEFAULT_FORMAT
        formatted = field.SERIALIZATION_FUNCS.get(data_format)
        return formatted or (lambda value: value.strftime(data_format))
    if serialize is fields.List._serialize and isinstance(field, fields.List):
        inner = _nullable(_converter(name, field.inner))
        return lambda value: [inner(each) for each in value]
    if serialize is fields.Nested._serialize and isinstance(field, fields.Nested) \
            and isinstance(field.schema, Schema):
        nested = _one(field.schema)
        if field.many or field.schema.many:
            return lambda value: [nested(each) for each in value]
        return nested
    if serialize is fields.Mapping._serialize and isinstance(field, fields.Mapping) \
            and field.key_field is None and field.value_field is None:
        return field.mapping_type
    raise UncompilableSchema(f"field {name!r} ({type(field).__name__}) is not compiled")


def _text(value: Any) -> str:
    # Nearly every value is text already: that costs no call.
    return value if type(value) is str else utils.ensure_text_type(value)


def _nullable(convert: Convert) -> Convert:
    return lambda value: None if value is None else convert(value)


def compiled_dump(schema: Schema) -> Dump:
    """A function that returns what `schema.dump(obj)` returns for a mapping `obj`."""
    if schema.many:
        raise UncompilableSchema(f"{type(schema).__name__} dumps many objects")
    return _one(schema)


def _one(schema: Schema) -> Dump:
    """The dump of one object of `schema` (a nested schema's `many` aside)."""
    if schema._hooks[PRE_DUMP] or schema._hooks[POST_DUMP]:
        raise UncompilableSchema(f"{type(schema).__name__} has dump hooks")
    steps: list[tuple[str, Convert]] = []
    for name, field in schema.dump_fields.items():
        if field.attribute is not None or field.data_key is not None \
                or field.dump_default is not missing or "." in name or hasattr(dict, name):
            # (marshmallow reads a key a mapping lacks as its attribute: `dict.items`...)
            raise UncompilableSchema(f"field {name!r} maps its name or has a default")
        steps.append((name, _converter(name, field)))
    compiled: Final = tuple(steps)

    def dump(obj: Mapping[str, Any]) -> dict[str, Any]:
        shown: dict[str, Any] = {}
        for name, convert in compiled:
            value = obj.get(name, _ABSENT)
            if value is _ABSENT:
                continue
            shown[name] = value if value is None or convert is _same else convert(value)
        return shown

    return dump
