"""The Merkle tree of RFC 6962/9162 (streams/rules/merkle.py), against Certificate
Transparency's test vectors and, for every tree up to 40 leaves, against itself."""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given

from streams.rules import merkle

#: The CT test inputs: the leaves' data, and the root of the first n of them.
DATA = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f"]
]  # fmt: skip
LEAVES = [merkle.leaf_hash(d) for d in DATA]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
#: (leaf index from 0, tree size, audit path)
INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
#: (old size, new size, proof)
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip


def hexes(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def test_the_roots_of_every_prefix_are_the_reference_roots() -> None:
    assert [merkle.root(LEAVES[:n]).hex() for n in range(9)] == ROOTS


def test_the_audit_paths_are_the_reference_paths_and_verify() -> None:
    for index, size, path in INCLUSION:
        proof = merkle.inclusion_proof(index, LEAVES[:size])
        assert hexes(proof) == path, (index, size)
        root = bytes.fromhex(ROOTS[size])
        assert merkle.verify_inclusion(index, size, LEAVES[index], proof, root)


def test_the_consistency_proofs_are_the_reference_proofs_and_verify() -> None:
    for old, new, path in CONSISTENCY:
        proof = merkle.consistency_proof(old, LEAVES[:new])
        assert hexes(proof) == path, (old, new)
        old_root, new_root = bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new])
        assert merkle.verify_consistency(old, new, proof, old_root, new_root)


def tree(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(2, "big")) for i in range(n)]


def test_every_leaf_of_every_tree_up_to_40_proves_its_place_and_no_other() -> None:
    for size in range(1, 41):
        leaves = tree(size)
        top = merkle.root(leaves)
        for index in range(size):
            proof = merkle.inclusion_proof(index, leaves)
            assert merkle.verify_inclusion(index, size, leaves[index], proof, top)
            assert not merkle.verify_inclusion(index, size, merkle.leaf_hash(b"x"), proof, top)
            if size > 1:
                other = (index + 1) % size
                assert not merkle.verify_inclusion(other, size, leaves[index], proof, top)


def test_every_pair_of_sizes_up_to_24_is_consistent_and_a_changed_past_is_caught() -> None:
    for new in range(1, 25):
        leaves = tree(new)
        new_root = merkle.root(leaves)
        for old in range(1, new + 1):
            old_root = merkle.root(leaves[:old])
            proof = merkle.consistency_proof(old, leaves)
            assert merkle.verify_consistency(old, new, proof, old_root, new_root)
            # A head whose past was rewritten: leaf 0 replaced.
            forged = merkle.root([merkle.leaf_hash(b"forged"), *leaves[1:old]])
            assert not merkle.verify_consistency(old, new, proof, forged, new_root)


@given(st.lists(st.binary(max_size=8), min_size=2, max_size=30), st.data())
def test_a_proof_with_any_node_changed_fails(data: list[bytes], draw: st.DataObject) -> None:
    leaves = [merkle.leaf_hash(d) for d in data]
    index = draw.draw(st.integers(0, len(leaves) - 1))
    proof = merkle.inclusion_proof(index, leaves)
    if not proof:
        return
    at = draw.draw(st.integers(0, len(proof) - 1))
    proof[at] = bytes([proof[at][0] ^ 1]) + proof[at][1:]
    assert not merkle.verify_inclusion(
        index, len(leaves), leaves[index], proof, merkle.root(leaves)
    )


def test_an_empty_proof_never_shows_growth() -> None:
    assert not merkle.verify_consistency(4, 8, [], bytes.fromhex(ROOTS[4]), bytes.fromhex(ROOTS[8]))
