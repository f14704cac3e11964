#!/usr/bin/env python3
"""An upstream database engine for Deltaflow, in Python: a tiny block database with a workload,
publishing its block changes and sync points on Kafka in Deltaflow's envelope, and answering
sync requests. It needs Python 3.9+ and kafka-python (Debian: python3-kafka) and nothing else;
with --validate-schemas it also checks every message it publishes against Deltaflow's published
JSON Schemas (needs jsonschema, Debian: python3-jsonschema).

The protocol it keeps (README.md beside this file says why each rule exists):

1. Every message carries an LSN, strictly increasing per database, never reused after a restart
   (LSNs are reserved in chunks in lsn.json before they are used). LSNs start at 1.
2. A transaction's BlockChanged records (the full after-image of each block, raw bytes in the
   envelope's tail) are published and acknowledged (acks=all) BEFORE its blocks are written to
   the database files.
3. EtSync only between transactions (one thread does everything here, so a sync never falls
   inside a transaction).
4. SyncRequested on nucleus.commands is answered by one EtSync with the same syncId, once per
   syncId: the answered ids are recorded (sync-digests.jsonl, fsynced) before the EtSync goes
   out, and a request for an id already answered is ignored.
5. NucleusState{active: true} when the engine starts, {active: false} when it stops (after its
   last transaction: Deltaflow takes that as a sync point).
6. The Kafka key of every record is the decimal dbid, so a database's records stay in order on
   one partition.

The database directory (<dir>/db) has the layout Deltaflow's save writer reads (libs/blockdb):
header.json {format: "deltaflow-blockdb", version: 1, dbid, geometry}, and the files ASSO and
DATA of fixed-size blocks, RABN 1 at offset 0. This engine keeps its blocks in memory as well.

At each sync point it appends {"syncId", "lsn", "digest"} to <dir>/sync-digests.jsonl and prints
{"event": "sync", ...} on stdout. The digest is Deltaflow's database digest (BlockDatabase.digest
of libs/blockdb): SHA-256 over every used block in (area, RABN) order, each as one byte of area
code (ASSO 1, DATA 2), the RABN as an unsigned 32-bit little-endian integer, then the block's
bytes; the used blocks are the admin blocks ASSO 1..2+2*maxFiles and every extent of every file.

Usage:
  python3 upstream.py --dbid 5 --dir /tmp/engine5 [--database DIR] --init    # create the database, exit
  python3 upstream.py --brokers 127.0.0.1:19092 --dbid 5 --dir /tmp/engine5 [--database DIR] [--txn-interval-ms 50]
                      [--blocks-per-txn 4] [--sync-interval-ms 5000] [--utility-every 50]
                      [--max-transactions N] [--seed 1] [--validate-schemas libs/contracts/schemas]
Stops on SIGTERM or SIGINT (after the transaction it is in), or after --max-transactions.
"""

import argparse
import hashlib
import json
import os
import random
import signal
import struct
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

BLOCK_CHANGES = "dsf.block-changes"
NUCLEUS_COMMANDS = "nucleus.commands"

# ------------------------------------------------------------------------------------------------
# The envelope (libs/contracts/schemas/envelope.json)

MAGIC = 0x44  # 'D'
ENVELOPE_VERSION = 1
PREFIX = struct.Struct(">BBI")  # magic, envelope version, JSON header length (big-endian u32)
MAX_JSON_HEADER = 4 * 1024 * 1024

# the message versions this engine writes (libs/contracts/schemas/index.json)
VERSIONS = {"BlockChanged": 1, "EtSync": 1, "UtilityChanged": 1, "NucleusState": 1, "SyncRequested": 1}


def envelope_header(msg_type, fields, tails=()):
    header = {"type": msg_type, "version": VERSIONS[msg_type], "fields": fields}
    if tails:
        header["bytes"] = [None if t is None else len(t) for t in tails]
    return header


def write_envelope(header, tails=()):
    """magic 0x44, version 1, u32 BE length of the JSON header, the JSON header, then the raw bytes."""
    js = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(js) > MAX_JSON_HEADER:
        raise ValueError("JSON header too long")
    return PREFIX.pack(MAGIC, ENVELOPE_VERSION, len(js)) + js + b"".join(t for t in tails if t is not None)


def read_envelope(value):
    """(header, [tail bytes...]) of an envelope; ValueError when it is not one."""
    if value is None or len(value) < PREFIX.size:
        raise ValueError("not an envelope: too short")
    magic, version, n = PREFIX.unpack_from(value, 0)
    if magic != MAGIC or version != ENVELOPE_VERSION:
        raise ValueError("not a Deltaflow envelope v1")
    if n > MAX_JSON_HEADER or PREFIX.size + n > len(value):
        raise ValueError("truncated JSON header")
    header = json.loads(value[PREFIX.size:PREFIX.size + n].decode("utf-8"))
    if not isinstance(header, dict) or not isinstance(header.get("fields"), dict):
        raise ValueError("malformed JSON header")
    at = PREFIX.size + n
    tails = []
    for length in header.get("bytes") or []:
        if length is None:
            tails.append(None)
            continue
        if at + length > len(value):
            raise ValueError("truncated tail")
        tails.append(value[at:at + length])
        at += length
    if at != len(value):
        raise ValueError("trailing bytes after the envelope")
    return header, tails


# ------------------------------------------------------------------------------------------------
# The block database (libs/blockdb's container layout)

AREA_CODE = {"ASSO": 1, "DATA": 2}


def tiny_geometry():
    """4 KiB blocks, ASSO 32 + DATA 128 blocks (640 KiB), two files. Admin blocks: ASSO 1..6."""
    return {
        "asso": {"blockSize": 4096, "blocks": 32},
        "data": {"blockSize": 4096, "blocks": 128},
        "maxFiles": 2,
        "files": [
            {"file": 1, "extents": [{"part": "AC", "from": 7, "to": 10}, {"part": "DATA", "from": 1, "to": 64}, {"part": "INDEX", "from": 11, "to": 20}]},
            {"file": 2, "extents": [{"part": "AC", "from": 21, "to": 24}, {"part": "DATA", "from": 65, "to": 128}, {"part": "INDEX", "from": 25, "to": 31}]},
        ],
    }


def used_ranges(geometry):
    """The admin blocks and every file extent, as sorted, merged (area, from, to) ranges."""
    ranges = [("ASSO", 1, 2 + 2 * geometry["maxFiles"])]
    for f in geometry["files"]:
        for e in f["extents"]:
            ranges.append(("DATA" if e["part"] == "DATA" else "ASSO", e["from"], e["to"]))
    ranges.sort(key=lambda r: (AREA_CODE[r[0]], r[1]))
    merged = []
    for area, lo, hi in ranges:
        if merged and merged[-1][0] == area and lo <= merged[-1][2] + 1:
            merged[-1] = (area, merged[-1][1], max(merged[-1][2], hi))
        else:
            merged.append((area, lo, hi))
    return merged


def fsync_write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class BlockDatabase:
    """header.json + ASSO + DATA; every block also in memory (bytearray per area)."""

    def __init__(self, directory, dbid, geometry=None):
        self.dir = directory
        header_path = os.path.join(directory, "header.json")
        if os.path.exists(header_path):
            with open(header_path) as f:
                header = json.load(f)
            if header.get("format") != "deltaflow-blockdb" or header.get("version") != 1 or header.get("dbid") != dbid:
                raise SystemExit("%s is not the database of dbid %d" % (header_path, dbid))
            self.geometry = header["geometry"]
            create = False
        else:
            self.geometry = geometry or tiny_geometry()
            create = True
        os.makedirs(directory, exist_ok=True)
        self.dbid = dbid
        self.fds = {}
        self.mem = {}
        for area, key in (("ASSO", "asso"), ("DATA", "data")):
            g = self.geometry[key]
            size = g["blockSize"] * g["blocks"]
            fd = os.open(os.path.join(directory, area), os.O_RDWR | os.O_CREAT, 0o644)
            if create:
                os.ftruncate(fd, size)
                os.fsync(fd)
            if os.fstat(fd).st_size != size:
                raise SystemExit("%s file is not %d bytes" % (area, size))
            self.fds[area] = fd
            self.mem[area] = bytearray(os.pread(fd, size, 0))
        if create:
            # area files first, header last: no header, no database
            fsync_write(header_path, json.dumps({"format": "deltaflow-blockdb", "version": 1, "dbid": dbid, "geometry": self.geometry}, indent=2) + "\n")

    def block_size(self, area):
        return self.geometry["asso" if area == "ASSO" else "data"]["blockSize"]

    def write_block(self, area, rabn, image):
        bs = self.block_size(area)
        if len(image) != bs:
            raise ValueError("image is not one block")
        self.mem[area][(rabn - 1) * bs:rabn * bs] = image
        os.pwrite(self.fds[area], image, (rabn - 1) * bs)

    def digest(self):
        """Deltaflow's database digest (see the module docstring)."""
        h = hashlib.sha256()
        for area, lo, hi in used_ranges(self.geometry):
            bs = self.block_size(area)
            mem = self.mem[area]
            for rabn in range(lo, hi + 1):
                h.update(struct.pack("<BI", AREA_CODE[area], rabn))
                h.update(mem[(rabn - 1) * bs:rabn * bs])
        return h.hexdigest()

    def close(self):
        for fd in self.fds.values():
            os.fsync(fd)
            os.close(fd)


class LsnStore:
    """LSNs strictly increasing across restarts: reserved in chunks, persisted before use."""

    CHUNK = 1000

    def __init__(self, path):
        self.path = path
        self.reserved = 0
        if os.path.exists(path):
            with open(path) as f:
                self.reserved = json.load(f)["reserved"]
        self.last = self.reserved  # anything up to the reservation may have been used

    def take(self):
        if self.last + 1 > self.reserved:
            self.reserved = self.last + self.CHUNK
            fsync_write(self.path, json.dumps({"reserved": self.reserved}))
        self.last += 1
        return self.last


# ------------------------------------------------------------------------------------------------
# The engine


def log(msg):
    print("python-upstream: %s" % msg, file=sys.stderr, flush=True)


def emit(event, **fields):
    print(json.dumps(dict(event=event, **fields)), flush=True)


class Engine:
    def __init__(self, args):
        self.args = args
        self.dbid = args.dbid
        os.makedirs(args.dir, exist_ok=True)
        self.db = BlockDatabase(database_dir(args), self.dbid)
        self.lsns = LsnStore(os.path.join(args.dir, "lsn.json"))
        self.digest_file = os.path.join(args.dir, "sync-digests.jsonl")
        self.answered = {}
        if os.path.exists(self.digest_file):
            with open(self.digest_file) as f:
                for line in f:
                    try:
                        d = json.loads(line)
                        self.answered[d["syncId"]] = d
                    except ValueError:
                        pass  # a torn last line: that sync was never published
        self.random = random.Random(args.seed)
        self.txn_no = 0
        self.validators = load_validators(args.validate_schemas) if args.validate_schemas else None
        brokers = args.brokers.split(",")
        self.producer = KafkaProducer(
            bootstrap_servers=brokers,
            client_id="python-upstream-%d" % self.dbid,
            acks="all",
            retries=5,
            max_in_flight_requests_per_connection=1,  # retries cannot reorder a database's records
            linger_ms=0,
        )
        ensure_topic(brokers, NUCLEUS_COMMANDS)
        self.consumer = KafkaConsumer(bootstrap_servers=brokers, client_id="python-upstream-%d" % self.dbid, group_id=None, enable_auto_commit=False)
        parts = self.consumer.partitions_for_topic(NUCLEUS_COMMANDS) or {0}
        tps = [TopicPartition(NUCLEUS_COMMANDS, p) for p in sorted(parts)]
        self.consumer.assign(tps)
        # requests are read from the log start: an id answered before is skipped (rule 4)
        self.consumer.seek_to_beginning(*tps)

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, messages):
        """messages: [(type, fields, tails)]; returns once the broker acknowledged all (acks=all)."""
        futures = []
        for msg_type, fields, tails in messages:
            header = envelope_header(msg_type, fields, tails)
            if self.validators is not None:
                self.validators[msg_type].validate(header)
            value = write_envelope(header, tails)
            futures.append(self.producer.send(
                BLOCK_CHANGES,
                key=str(self.dbid).encode(),
                value=value,
                headers=[("df-type", msg_type.encode()), ("df-version", str(VERSIONS[msg_type]).encode())],
            ))
        self.producer.flush()
        for f in futures:
            f.get(timeout=30)  # raises if the broker did not take it: nothing is written then

    # -- the workload -------------------------------------------------------------------------

    def image(self, area, rabn, lsn):
        bs = self.db.block_size(area)
        head = struct.pack("<IId", self.dbid, rabn, float(lsn))
        return head + self.random.randbytes(bs - len(head))

    def pick_block(self):
        f = self.random.choice(self.db.geometry["files"])
        data = [e for e in f["extents"] if e["part"] == "DATA"]
        other = [e for e in f["extents"] if e["part"] != "DATA"]
        extents = data if (self.random.random() < 0.75 or not other) else other
        e = self.random.choice(extents)
        return ("DATA" if e["part"] == "DATA" else "ASSO"), self.random.randint(e["from"], e["to"])

    def transaction(self):
        self.txn_no += 1
        changes = []
        for _ in range(self.args.blocks_per_txn):
            area, rabn = self.pick_block()
            lsn = self.lsns.take()
            changes.append((area, rabn, lsn, self.image(area, rabn, lsn)))
        # rule 2: publish first, then write
        self.publish([("BlockChanged", {"dbid": self.dbid, "area": a, "rabn": r, "lsn": l, "txn": self.txn_no}, [img]) for a, r, l, img in changes])
        for area, rabn, _, img in changes:
            self.db.write_block(area, rabn, img)

    def utility(self):
        """Rewrites a DATA range of one file: each block as BlockChanged (txn 0), then UtilityChanged."""
        f = self.random.choice(self.db.geometry["files"])
        ds = [e for e in f["extents"] if e["part"] == "DATA"][0]
        n = min(4, ds["to"] - ds["from"] + 1)
        start = self.random.randint(ds["from"], ds["to"] - n + 1)
        writes = []
        messages = []
        for rabn in range(start, start + n):
            lsn = self.lsns.take()
            img = self.image("DATA", rabn, lsn)
            writes.append((rabn, img))
            messages.append(("BlockChanged", {"dbid": self.dbid, "area": "DATA", "rabn": rabn, "lsn": lsn, "txn": 0}, [img]))
        messages.append(("UtilityChanged", {"dbid": self.dbid, "lsn": self.lsns.take(), "file": f["file"], "parts": ["DATA"], "ranges": [{"area": "DATA", "from": start, "to": start + n - 1}]}, ()))
        self.publish(messages)
        for rabn, img in writes:
            self.db.write_block("DATA", rabn, img)

    # -- sync points --------------------------------------------------------------------------

    def sync(self, sync_id):
        if sync_id in self.answered:
            return  # rule 4: once per syncId
        d = {"syncId": sync_id, "lsn": self.lsns.take(), "digest": self.db.digest()}
        with open(self.digest_file, "a") as f:
            f.write(json.dumps(d) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.answered[sync_id] = d
        self.publish([("EtSync", {"dbid": self.dbid, "lsn": d["lsn"], "syncId": sync_id}, ())])
        emit("sync", **d)

    def poll_commands(self):
        for records in self.consumer.poll(timeout_ms=0).values():
            for rec in records:
                try:
                    header, _ = read_envelope(rec.value)
                except ValueError as e:
                    log("ignored a malformed command at offset %d: %s" % (rec.offset, e))
                    continue
                fields = header["fields"]
                if header.get("type") == "SyncRequested" and fields.get("dbid") == self.dbid and isinstance(fields.get("syncId"), str):
                    self.sync(fields["syncId"])

    def set_active(self, active):
        lsn = self.lsns.take()
        self.publish([("NucleusState", {"dbid": self.dbid, "lsn": lsn, "active": active, "at": int(time.time() * 1000)}, ())])
        if not active:
            # Deltaflow takes the stop as a sync point named inactive@<lsn>
            d = {"syncId": "inactive@%d" % lsn, "lsn": lsn, "digest": self.db.digest()}
            with open(self.digest_file, "a") as f:
                f.write(json.dumps(d) + "\n")
            emit("sync", **d)

    # -- the loop -----------------------------------------------------------------------------

    def run(self, stopping):
        self.set_active(True)
        emit("ready", dbid=self.dbid, database=os.path.abspath(self.db.dir), lsn=self.lsns.last)
        next_sync = time.monotonic() + self.args.sync_interval_ms / 1000.0
        while not stopping():
            self.poll_commands()  # rule 3: syncs only here, between transactions
            if self.args.max_transactions and self.txn_no >= self.args.max_transactions:
                time.sleep(0.05)
                continue
            self.transaction()
            if self.args.utility_every and self.txn_no % self.args.utility_every == 0:
                self.utility()
            if self.args.sync_interval_ms and time.monotonic() >= next_sync:
                self.sync("auto-%d-%d" % (self.dbid, self.lsns.last + 1))
                next_sync = time.monotonic() + self.args.sync_interval_ms / 1000.0
            if self.txn_no % 100 == 0:
                emit("progress", transactions=self.txn_no, lsn=self.lsns.last)
            time.sleep(self.args.txn_interval_ms / 1000.0)
        self.set_active(False)
        emit("stopped", transactions=self.txn_no, lsn=self.lsns.last)

    def close(self):
        self.producer.flush()
        self.producer.close()
        self.consumer.close()
        self.db.close()


def database_dir(args):
    return os.path.abspath(args.database or os.path.join(args.dir, "db"))


def ensure_topic(brokers, topic):
    """The operator normally creates the topics; a missing one gets a single partition here."""
    admin = KafkaAdminClient(bootstrap_servers=brokers, client_id="python-upstream-admin")
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()


def load_validators(schemas_dir):
    """A Draft 2020-12 validator per message type, from Deltaflow's published schemas."""
    try:
        from jsonschema import Draft202012Validator
    except ImportError:
        raise SystemExit("--validate-schemas needs the jsonschema package (Debian: python3-jsonschema)")
    with open(os.path.join(schemas_dir, "index.json")) as f:
        index = json.load(f)
    validators = {}
    for topic in index["upstreamTopics"]:
        for m in index["topics"][topic]["messages"]:
            with open(os.path.join(schemas_dir, m["schema"])) as f:
                schema = json.load(f)
            Draft202012Validator.check_schema(schema)
            if m["version"] != VERSIONS.get(m["type"], m["version"]):
                raise SystemExit("this engine writes %s v%s, Deltaflow's contract is v%s" % (m["type"], VERSIONS[m["type"]], m["version"]))
            validators[m["type"]] = Draft202012Validator(schema)
    return validators


def main():
    p = argparse.ArgumentParser(description="A Deltaflow upstream database engine in Python (see the module docstring).")
    p.add_argument("--brokers", default=os.environ.get("KAFKA_BROKERS", "127.0.0.1:19092"))
    p.add_argument("--dbid", type=int, required=True)
    p.add_argument("--dir", required=True, help="state directory: db/ (the database), lsn.json, sync-digests.jsonl")
    p.add_argument("--database", metavar="DIR", help="the database directory (default: DIR/db); under `npm start`: $DELTAFLOW_DATA_DIR/databases/<dbid>, where the save writer looks")
    p.add_argument("--init", action="store_true", help="create the database if it does not exist, print its directory and exit (no Kafka): the change logger must know it before it starts")
    p.add_argument("--txn-interval-ms", type=int, default=50)
    p.add_argument("--blocks-per-txn", type=int, default=4)
    p.add_argument("--sync-interval-ms", type=int, default=5000, help="periodic EtSync; 0: only on request")
    p.add_argument("--utility-every", type=int, default=50, help="a utility operation every N transactions; 0: never")
    p.add_argument("--max-transactions", type=int, default=0, help="stop the workload after N transactions (keeps answering syncs); 0: no limit")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--validate-schemas", metavar="DIR", help="check every published message against Deltaflow's JSON Schemas in DIR (libs/contracts/schemas)")
    args = p.parse_args()
    if not 1 <= args.dbid <= 65535:
        p.error("--dbid must be 1..65535")

    if args.init:
        db = BlockDatabase(database_dir(args), args.dbid)
        db.close()
        print(db.dir)
        return

    stop = {"now": False}

    def on_signal(signum, _frame):
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    engine = Engine(args)
    try:
        engine.run(lambda: stop["now"])
    finally:
        engine.close()


if __name__ == "__main__":
    main()
