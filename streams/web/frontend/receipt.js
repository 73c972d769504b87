// The /receipt page: a signer checks, in their own browser, that their signature is in
// a petition's public log (docs/transparency.md). Nothing the server says is trusted:
// the leaf is made here from the receipt's own fields, the inclusion proof is checked
// here against a head, and the head's Ed25519 signature against the key the user
// gives (filled in from /api/keys; the README publishes it to compare). The formats
// are those of streams/rules/transparency.py, merkle.py (RFC 9162) and
// signed_note.py (c2sp.org/signed-note, tlog-checkpoint).
import * as ed from "@noble/ed25519";
import { sha256, sha512 } from "@noble/hashes/sha2.js";

ed.hashes.sha512 = sha512;

const text = new TextEncoder();
const COMMITMENT_TAG = text.encode("countersign/signature/v1\n");
const DASH = "\u2014 ";

const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
};
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const fromBase64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const toBase64 = (bytes) => btoa(String.fromCharCode(...bytes));
const fromHex = (s) => Uint8Array.from(s.match(/../g) || [], (h) => parseInt(h, 16));
const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const lengthPrefixed = (bytes) => concat(new Uint8Array([bytes.length >> 8, bytes.length & 255]), bytes);

export function commitment(signatureId, country, salt) {
  const fields = [text.encode(signatureId), text.encode(country), salt].map(lengthPrefixed);
  return sha256(concat(COMMITMENT_TAG, ...fields));
}

export const addedLeaf = (committed) => concat(new Uint8Array([1, 1]), committed);
const leafHash = (leaf) => sha256(concat(new Uint8Array([0]), leaf));
const nodeHash = (left, right) => sha256(concat(new Uint8Array([1]), left, right));

// RFC 9162, 2.1.3.2.
export function verifyInclusion(index, size, leaf, proof, root) {
  if (!(index >= 0 && index < size)) return false;
  let fn = index;
  let sn = size - 1;
  let computed = leaf;
  for (const sibling of proof) {
    if (sn === 0) return false;
    if (fn & 1 || fn === sn) {
      computed = nodeHash(sibling, computed);
      while (fn && !(fn & 1)) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      computed = nodeHash(computed, sibling);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 && equal(computed, root);
}

// RFC 9162, 2.1.4.2.
export function verifyConsistency(oldSize, newSize, proof, oldRoot, newRoot) {
  if (!(oldSize > 0 && oldSize <= newSize)) return false;
  if (oldSize === newSize) return proof.length === 0 && equal(oldRoot, newRoot);
  if (proof.length === 0) return false;
  const path = [...proof];
  if ((oldSize & (oldSize - 1)) === 0) path.unshift(oldRoot);
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  let oldComputed = path[0];
  let newComputed = path[0];
  for (const node of path.slice(1)) {
    if (sn === 0) return false;
    if (fn & 1 || fn === sn) {
      oldComputed = nodeHash(node, oldComputed);
      newComputed = nodeHash(node, newComputed);
      while (fn && !(fn & 1)) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      newComputed = nodeHash(newComputed, node);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 && equal(oldComputed, oldRoot) && equal(newComputed, newRoot);
}

// A verifier key, name+hash+base64(0x01 || key), as the Go note package writes it.
export function parseKey(encoded) {
  // Split at the first two "+" only: base64 has "+" too.
  const [name, hash, ...rest] = encoded.trim().split("+");
  const key = rest.join("+");
  const raw = fromBase64(key || "");
  if (!name || raw.length !== 33 || raw[0] !== 1) throw new Error("that is not an Ed25519 verifier key");
  const publicKey = raw.slice(1);
  const keyHash = sha256(concat(text.encode(name), new Uint8Array([10, 1]), publicKey)).slice(0, 4);
  if (toHex(keyHash) !== hash) throw new Error("the key's hash does not match its name and key");
  return { name, keyHash, publicKey };
}

// The checkpoint a signed note holds, once the key's signature on it checks.
export function openHead(note, key) {
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new Error("the head is not a signed note");
  const body = note.slice(0, split + 1);
  const signed = note
    .slice(split + 2)
    .split("\n")
    .filter((line) => line.startsWith(DASH))
    .some((line) => {
      const [name, blob] = line.slice(DASH.length).split(" ");
      if (name !== key.name) return false;
      const raw = fromBase64(blob);
      return (
        raw.length === 68 &&
        equal(raw.slice(0, 4), key.keyHash) &&
        ed.verify(raw.slice(4), text.encode(body), key.publicKey)
      );
    });
  if (!signed) throw new Error(`the head is not signed by ${key.name}`);
  const [origin, size, root, ...extensions] = body.replace(/\n$/, "").split("\n");
  const count = extensions.find((line) => line.startsWith("count "));
  return {
    origin,
    size: Number(size),
    root: fromBase64(root),
    count: count === undefined ? null : Number(count.slice(6)),
  };
}

async function getJson(url) {
  const answer = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Error(body.error || `${url} answered ${answer.status}`);
  return body;
}

// Check a receipt (the intake's first half, or a whole one kept from before) against
// the log's newest head; the whole receipt as it stands now.
export async function checkReceipt(receipt, key, base = "") {
  for (const field of ["petition_id", "signature_id", "country", "salt"]) {
    if (typeof receipt[field] !== "string") throw new Error(`the receipt has no ${field}`);
  }
  const log = `${base}/api/petitions/${encodeURIComponent(receipt.petition_id)}/log`;
  const leaf = addedLeaf(commitment(receipt.signature_id, receipt.country, fromBase64(receipt.salt)));
  const petitionOf = (head) => head.origin.split("/").pop();
  let kept = null;
  if (receipt.head !== undefined) {
    kept = openHead(receipt.head, key);
    const proof = receipt.proof.map(fromBase64);
    if (petitionOf(kept) !== receipt.petition_id) throw new Error(`the receipt's head is the log of ${kept.origin}`);
    if (!verifyInclusion(receipt.leaf_index, kept.size, leafHash(leaf), proof, kept.root)) {
      throw new Error(`leaf ${receipt.leaf_index} of the receipt's head is not this signature`);
    }
  }
  const newestNote = (await getJson(`${log}/head`)).note;
  const newest = openHead(newestNote, key);
  if (petitionOf(newest) !== receipt.petition_id) throw new Error(`the log's head is the log of ${newest.origin}`);
  if (kept !== null) {
    if (newest.size < kept.size) throw new Error(`the log shrank: ${kept.size} leaves then, ${newest.size} now`);
    const proof = newest.size > kept.size
      ? (await getJson(`${log}/consistency?from=${kept.size}&to=${newest.size}`)).proof.map(fromHex)
      : [];
    if (!verifyConsistency(kept.size, newest.size, proof, kept.root, newest.root)) {
      throw new Error("the newest head does not extend your receipt's: the log was rewritten");
    }
  }
  const found = await getJson(`${log}/proof?commitment=${toHex(leaf.slice(2))}`);
  const head = openHead(found.head.note, key);
  const proof = found.proof.map(fromHex);
  if (!verifyInclusion(found.leaf_index, head.size, leafHash(leaf), proof, head.root)) {
    throw new Error("the log's proof does not show this signature in its head");
  }
  return {
    head,
    whole: {
      receipt: 1,
      petition_id: receipt.petition_id,
      signature_id: receipt.signature_id,
      country: receipt.country,
      salt: receipt.salt,
      leaf_index: found.leaf_index,
      proof: proof.map(toBase64),
      head: found.head.note,
    },
  };
}

function show(result, ok, message) {
  result.className = ok ? "ok" : "bad";
  result.textContent = message;
}

async function main() {
  const form = document.getElementById("check");
  if (!form) return;
  const receiptField = document.getElementById("receipt");
  const keyField = document.getElementById("key");
  const result = document.getElementById("result");
  const keep = document.getElementById("keep");
  const given = new URLSearchParams(location.hash.slice(1)).get("receipt");
  if (given) receiptField.value = given;
  getJson("/api/keys")
    .then((keys) => {
      if (!keyField.value) keyField.value = keys.transparency.key;
    })
    .catch(() => {});
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    keep.hidden = true;
    show(result, true, "Checking…");
    try {
      const receipt = JSON.parse(receiptField.value);
      const key = parseKey(keyField.value);
      const { head, whole } = await checkReceipt(receipt, key);
      show(
        result,
        true,
        `Your signature is in the log: leaf ${whole.leaf_index} of ${head.size} in the head of ` +
          `${head.origin}, signed by ${key.name}` +
          (head.count === null ? "." : `; the log counts ${head.count} signatures.`),
      );
      keep.href = URL.createObjectURL(new Blob([JSON.stringify(whole, null, 2)], { type: "application/json" }));
      keep.hidden = false;
    } catch (error) {
      show(result, false, `This receipt does not hold: ${error.message}`);
    }
  });
}

main();
