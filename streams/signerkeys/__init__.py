"""The signers' data keys (crypto-shredding, docs/privacy.md).

Each signer's personal data is sealed under a data key of its own per petition
(``schemas.sealed``). The keys live only on the compacted ``keys.signers`` topic,
wrapped under the master key, which never touches Kafka:

* ``keyring.Keyring``: what the topic holds, as its records apply (pure);
* ``store.SignerKeys``: a process's followed copy, which unwraps a key when asked;
* ``writer.KeyWriter``: makes keys, erases them (tombstones), and ticks the topic
  so that compaction removes an erased key within the stated bound
  (``writer.erasure_bound_seconds``).
"""
