"""How IPFS addresses a file: the CID that ``ipfs add --cid-version=1 --raw-leaves`` gives.

The default importer of kubo and js-ipfs cuts the bytes into 262,144-byte chunks
(``size-262144``) and stores each as a raw block: CIDv1, codec ``raw``, sha2-256. One chunk
(the empty input included) is its own root. More chunks are linked by a balanced tree of
dag-pb nodes carrying UnixFS ``File`` metadata: chunks are grouped 174 at a time under parent
nodes, those parents 174 at a time under grandparents, and so on until one root is left, so
every leaf sits at the same depth and the tree fills from the left.

No maintained Python package encodes UnixFS file nodes. ``py-ipld-dag`` encodes dag-pb but not
UnixFS and brings a second CID stack (py-cid, py-multihash); ``libipld`` has no dag-pb encoder;
``aleph-cid`` (0.1.0, a first release) computes whole CIDs in Rust but exposes no blocks and no
``multiformats`` objects. So the two small protobuf messages are written here by hand, following
the dag-pb spec (links before data, empty link names written) and UnixFS's proto2 schema
(type, filesize, unpacked blocksizes). ``canonical`` parses CIDs with ``multiformats``;
``cid_of`` writes the binary CIDs of its blocks itself (version 1, the codec, the sha2-256
multihash: fixed prefixes before a ``hashlib`` digest), since ``multiformats``' run-time type
checks cost twice the hashing on every store read.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import lru_cache

from multiformats import CID, varint

from contracts.units import Cid
from sim.errors import ContentNotFound

CHUNK_SIZE = 262_144
"""Bytes per leaf: the importer's default chunker, ``size-262144``."""

MAX_LINKS = 174
"""Children per internal node: the importer's default for balanced file DAGs."""

_UNIXFS_FILE = 2  # UnixFS Data.DataType.File

_RAW = b"\x01\x55\x12\x20"
"""Binary CID prefix of a raw block: version 1, codec raw (0x55), sha2-256 (0x12), 32 bytes."""
_DAG_PB = b"\x01\x70\x12\x20"
"""The same for a dag-pb node (codec 0x70)."""


@dataclass(frozen=True)
class _Node:
    """One node of a file DAG, as its parent needs to know it."""

    cid: bytes  # the binary CID
    file_size: int  # content bytes below this node (a UnixFS blocksize)
    dag_size: int  # encoded bytes of this node and all below (a dag-pb link's Tsize)


def cid_of(data: bytes) -> Cid:
    """The base32 CIDv1 of ``data`` as an IPFS node adds it with raw leaves (see module doc)."""
    binary = _root(data).cid
    return Cid("b" + base64.b32encode(binary).decode("ascii").lower().rstrip("="))


@lru_cache(maxsize=4096)  # a pure function of the string, asked on every store read
def canonical(cid: str) -> Cid:
    """``cid`` as the base32 CIDv1 string the stores key content by.

    Any multibase spelling of a CIDv1 is accepted; anything else cannot name stored content.
    """
    try:
        parsed = CID.decode(cid)
    except (ValueError, KeyError, TypeError) as err:
        raise ContentNotFound(f"{cid!r} is not a CID ({err})") from err
    if parsed.version != 1:
        raise ContentNotFound(f"{cid!r} is a CIDv0; content here is addressed by CIDv1")
    return Cid(parsed.encode("base32"))


def _root(data: bytes) -> _Node:
    view = memoryview(data)
    level = [_leaf(view[at : at + CHUNK_SIZE]) for at in range(0, max(len(data), 1), CHUNK_SIZE)]
    while len(level) > 1:  # one chunk is its own root; more get parents, level by level
        level = [_parent(level[at : at + MAX_LINKS]) for at in range(0, len(level), MAX_LINKS)]
    return level[0]


def _leaf(chunk: memoryview) -> _Node:
    return _Node(_RAW + hashlib.sha256(chunk).digest(), len(chunk), len(chunk))


def _parent(children: list[_Node]) -> _Node:
    block = _pb_node(children, _unixfs_file(children))
    return _Node(
        _DAG_PB + hashlib.sha256(block).digest(),
        file_size=sum(c.file_size for c in children),
        dag_size=len(block) + sum(c.dag_size for c in children),
    )


def _unixfs_file(children: list[_Node]) -> bytes:
    """UnixFS ``Data``: Type=File (1), filesize (3), one blocksize (4) per child."""
    sizes = b"".join(_varint_field(4, c.file_size) for c in children)
    return (
        _varint_field(1, _UNIXFS_FILE)
        + _varint_field(3, sum(c.file_size for c in children))
        + sizes
    )


def _pb_node(children: list[_Node], data: bytes) -> bytes:
    """dag-pb ``PBNode``: its Links (2) come before its Data (1) on the wire."""
    links = b"".join(_bytes_field(2, _pb_link(c)) for c in children)
    return links + _bytes_field(1, data)


def _pb_link(child: _Node) -> bytes:
    """dag-pb ``PBLink``: Hash (1), an empty Name (2), Tsize (3)."""
    return _bytes_field(1, child.cid) + _bytes_field(2, b"") + _varint_field(3, child.dag_size)


def _varint_field(number: int, value: int) -> bytes:
    return varint.encode(number << 3) + varint.encode(value)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return varint.encode(number << 3 | 2) + varint.encode(len(payload)) + payload
