"""Client threads that write every data type while a checkpoint runs."""

from __future__ import annotations

import random
import threading

import redis


def load_keys(r: redis.Redis, n: int, db_values: int = 24) -> None:
    """``n`` string keys ``k:<i>`` plus containers of every type, with a few TTLs."""
    pipe = r.pipeline(transaction=False)
    batch = 1000
    for lo in range(0, n, batch):
        pipe.mset({b"k:%d" % i: b"%0*d" % (db_values, i) for i in range(lo, min(n, lo + batch))})
    for i in range(200):
        pipe.hset(b"h:%d" % i, mapping={b"a": b"%d" % i, b"b": b"x" * (i % 7)})
        pipe.rpush(b"l:%d" % i, *[b"e%d" % j for j in range(i % 5 + 1)])
        pipe.sadd(b"s:%d" % i, *[b"%d" % j for j in range(i % 4 + 1)])
        pipe.zadd(b"z:%d" % i, {b"m%d" % j: j * 1.5 for j in range(i % 6 + 1)})
        if i % 20 == 0:
            pipe.pexpire(b"h:%d" % i, 3_600_000 + i)
    pipe.execute()


class Writer(threading.Thread):
    """One connection issuing a random mix of writes of every type (and some reads).

    ``counter`` is INCR-ed once per loop with its acknowledged count kept in ``acked``,
    so a write applied twice or lost by recovery shows up as a wrong counter.
    """

    def __init__(self, port: int, ident: int, keys: int, seed: int, whole_db: bool = False) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.who = ident
        self.keys = keys
        self.rng = random.Random(seed)
        self.whole_db = whole_db
        self.stop_flag = False
        self.acked = 0
        self.ops = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        r = redis.Redis(port=self.port, socket_timeout=20)
        rng = self.rng
        counter = b"counter:%d" % self.who
        try:
            while not self.stop_flag:
                r.incr(counter)
                self.acked += 1
                for _ in range(8):
                    self.one(r, rng)
                    self.ops += 1
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            if not self.stop_flag:
                self.error = exc
        finally:
            r.close()

    def one(self, r: redis.Redis, rng: random.Random) -> None:
        i = rng.randrange(self.keys)
        c = rng.randrange(200)
        kind = rng.randrange(22)
        if kind == 0:
            r.set(b"k:%d" % i, b"w%d-%d" % (self.who, rng.randrange(10**6)))
        elif kind == 1:
            r.delete(b"k:%d" % i)
        elif kind == 2:
            r.append(b"k:%d" % i, b"+")
        elif kind == 3:
            r.set(b"new:%d:%d" % (self.who, rng.randrange(10**6)), b"n")
        elif kind == 4:
            r.pexpire(b"k:%d" % i, rng.choice((1, 50, 3_600_000)))
        elif kind == 5:
            r.persist(b"k:%d" % i)
        elif kind == 6:
            r.hset(b"h:%d" % c, b"f%d" % rng.randrange(5), b"v%d" % rng.randrange(100))
        elif kind == 7:
            r.hincrby(b"h:%d" % c, b"n", 1)
        elif kind == 8:
            r.hdel(b"h:%d" % c, b"a", b"b")
        elif kind == 9:
            r.rpush(b"l:%d" % c, b"p%d" % rng.randrange(100))
        elif kind == 10:
            r.lpop(b"l:%d" % c)
        elif kind == 11:
            r.lmove(b"l:%d" % c, b"l:%d" % rng.randrange(200), "LEFT", "RIGHT")
        elif kind == 12:
            r.sadd(b"s:%d" % c, b"%d" % rng.randrange(50))
        elif kind == 13:
            r.srem(b"s:%d" % c, b"%d" % rng.randrange(5))
        elif kind == 14:
            r.zadd(b"z:%d" % c, {b"m%d" % rng.randrange(10): rng.uniform(-10, 10)})
        elif kind == 15:
            r.zincrby(b"z:%d" % c, 2.5, b"m%d" % rng.randrange(10))
        elif kind == 16:
            r.zrem(b"z:%d" % c, b"m0")
        elif kind == 17:
            if r.exists(b"k:%d" % i):
                r.rename(b"k:%d" % i, b"k:%d" % rng.randrange(self.keys))
        elif kind == 18:
            r.get(b"k:%d" % i)  # may expire the key lazily (a logged DEL)
        elif kind == 19:
            with r.pipeline(transaction=True) as p:  # MULTI/EXEC: queued writes guarded one by one
                p.hset(b"h:%d" % c, b"tx", b"%d" % rng.randrange(9))
                p.rpush(b"l:%d" % c, b"tx")
                if rng.random() < 0.5:
                    p.incr(b"k:%d" % i)
                else:
                    p.sadd(b"s:%d" % c, b"tx")
                try:
                    p.execute()
                except redis.ResponseError:
                    pass  # INCR on a non-integer: the rest of the transaction still ran
        elif kind == 20:
            r.move(b"k:%d" % i, 1)
        elif self.whole_db and rng.random() < 0.02:
            # Whole-database changes replace dict objects: the cut-time ones stay intact.
            choice = rng.random()
            if choice < 0.4:
                r.execute_command("SWAPDB", 1, 2)
            elif choice < 0.8:
                r.execute_command("SWAPDB", 0, 3)
            else:
                r.execute_command("FLUSHDB")
        else:
            r.set(b"k:%d" % i, b"ttl", ex=3600)
