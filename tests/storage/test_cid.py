"""cid_of gives the CIDs an IPFS node gives; canonical() accepts only CIDv1 spellings."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from multiformats import CID

from sim.errors import ContentNotFound
from sim.storage import CHUNK_SIZE, MAX_LINKS, canonical, cid_of

# What `ipfs add --cid-version=1 --raw-leaves` answered for these payloads (js-ipfs 0.66.1,
# daemon 0.18.1); test_ipfs.py checks the same sizes against a live daemon.
RECORDED = {
    0: "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
    1: "bafkreic64dou2scaekp2wsugiohpxsxrxflrv6kpllhfvteu3ym6tdvjvm",
    CHUNK_SIZE: "bafkreicvtrszsipgdgnqeuzakeu7cxndbit4kuvtaxgcfkebueze5tltxe",
    CHUNK_SIZE + 1: "bafybeihxyqggqw4b3kwusklpyrbjj25cwtvgngzfcqvkgbuozdftu5ydx4",
    3_000_000: "bafybeibed6na4acj7jdcsjinsm6xiyuvu752rxestuq7h2c4xrtkomhrkq",
    # the largest file one level of links holds, and one byte more (a second level)
    MAX_LINKS * CHUNK_SIZE: "bafybeig2nx62oa3pbux3a63xtvts5mce52vq7cm2y7ukvj3xnfjfs6edva",
    MAX_LINKS * CHUNK_SIZE + 1: "bafybeiegg4vocwc4teyps2mvmaaa2goeos4f2smyxo5vlvcebiuzqoynci",
}


@pytest.mark.parametrize("size", sorted(RECORDED))
def test_cid_equals_what_an_ipfs_node_recorded(
    size: int, make_payload: Callable[[int], bytes]
) -> None:
    assert cid_of(make_payload(size)) == RECORDED[size]


@pytest.mark.parametrize(
    ("size", "codec"),
    [(0, "raw"), (1, "raw"), (CHUNK_SIZE, "raw"), (CHUNK_SIZE + 1, "dag-pb"), (10**6, "dag-pb")],
)
def test_one_chunk_is_a_raw_block_and_more_get_a_dag_pb_root(
    size: int, codec: str, make_payload: Callable[[int], bytes]
) -> None:
    cid = CID.decode(cid_of(make_payload(size)))
    assert (cid.version, cid.codec.name, cid.hashfun.name) == (1, codec, "sha2-256")
    assert str(cid).startswith("bafkrei" if codec == "raw" else "bafybei")


def test_every_byte_counts(make_payload: Callable[[int], bytes]) -> None:
    data = bytearray(make_payload(MAX_LINKS * CHUNK_SIZE + 5))
    before = cid_of(bytes(data))
    data[-1] ^= 1
    assert cid_of(bytes(data)) != before
    assert cid_of(bytes(data[:-1])) != before


def test_canonical_gives_base32_for_any_spelling_of_a_cidv1() -> None:
    cid = cid_of(b"model")
    assert canonical(CID.decode(cid).encode("base58btc")) == cid
    assert canonical(cid) == cid


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFjiwiVHXYTwFkU7H", "is a CIDv0"),
        ("../../etc/passwd", "is not a CID"),
        ("", "is not a CID"),
        ("bafkrei", "is not a CID"),
    ],
)
def test_canonical_rejects_what_cannot_name_stored_content(text: str, expected: str) -> None:
    with pytest.raises(ContentNotFound, match=expected):
        canonical(text)


@pytest.mark.parametrize("size", [0, 1, 1000, CHUNK_SIZE - 1, CHUNK_SIZE])
def test_one_chunk_cids_written_out_are_those_of_multiformats(
    size: int, make_payload: Callable[[int], bytes]
) -> None:
    from multiformats import multihash

    data = make_payload(size)
    spelled = CID("base32", 1, "raw", multihash.digest(data, "sha2-256")).encode("base32")
    assert cid_of(data) == spelled


def test_canonical_takes_its_own_spelling_as_it_is_and_refuses_near_misses() -> None:
    good = cid_of(b"model bytes")
    assert canonical(good) == good
    with pytest.raises(ContentNotFound):
        canonical(good[:-1] + "1")  # not base32
    assert canonical(CID.decode(good).encode("base58btc")) == good
