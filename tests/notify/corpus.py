"""Command corpora for the keyspace-notification differential tests.

``FIXED`` walks every event name SentryKV raises (and the commands that
raise none), family by family, including the corner cases where Redis's
order is not obvious: LMOVE (destination push before source pop), RENAME
over an existing key ('new' again), SMOVE emptying its source, pops and
removals that delete the key, SPOP with a count covering the whole set,
*STORE with an empty result, RESTORE with a past TTL, GETEX/EXPIRE in the
past, lazily expired keys met by reads and writes, blocked pops served by a
later push.

:func:`random_corpus` draws commands of every family over a few keys so
types collide (WRONGTYPE), containers fill and empty, and keys are created,
renamed and expire (TTLs in the past: expiry by time is in FIXED, where the
active cycle is paused around it), from a seed.
"""

from __future__ import annotations

import random

from tests.notify.events import BLOCKED, RESTORE_FROM, SLEEP


def _lines(text: str) -> list[list[str]]:
    return [line.split() for line in text.strip().splitlines() if line.strip() and not line.startswith("#")]


FIXED = _lines("""
# strings
set s1 v
set s1 v2 get
set s1 v nx
set s1 v xx
set s2 v xx
set s1 v ex 100
set s1 v keepttl
set s1 v px 100000 get
setnx s1 v
setnx s3 v
setex s4 100 v
psetex s4 100000 v
getset s4 w
getset s5 w
getdel s5
getdel s5
getex s4 ex 50
getex s4 persist
getex s4
getex s4 pxat 1
mset m1 1 m2 2
msetnx m1 1 m3 3
msetnx m4 1 m5 3
append ap x
append ap y
incr i
incrby i 5
decr i
decrby i 2
incrbyfloat f 1.5
incrbyfloat f 1e2
setrange sr 3 abc
setrange sr 0 x
strlen sr
get nokey
mget m1 nokey m2
getrange nokey 0 1
lcs m1 nokey
# keys
del m1 nokey m2
unlink m4 m5
exists m3 nokey
type nokey
ttl nokey
set t v
expire t 100
expire t 200 nx
expire t 50 gt
pexpire t 300000 lt
persist t
persist t
pexpireat t 1
set t v
expire t -1
expire nokey 10
set r1 v
rename r1 r2
renamenx r2 r3
set r4 v
rename r3 r4
rename r4 r4
renamenx r4 r4
rename nokey x
set c1 v
copy c1 c2
copy c1 c2
copy c1 c2 replace
copy c1 c9 db 3
copy nokey c3
set mv v
move mv 2
move mv 2
touch c1 nokey
# lists
rpush l a b c
lpush l z
lpushx l y
rpushx l x
lpushx nol a
linsert l before a q
linsert l after nopivot q
lset l 0 w
lrem l 0 q
lrem l 0 nomember
ltrim l 0 -1
ltrim l 1 100
lpop l
rpop l 2
lpop l 0
lrange l 0 -1
lindex nol 0
rpush src a b
rpush dst x
lmove src dst left right
lmove src dst right left
lmove dst dst left right
rpoplpush dst dst
rpoplpush nosrc dst
lmpop 2 nol dst right count 10
rpush l2 a b c
ltrim l2 5 10
rpush l3 a a b
lrem l3 0 a
lrem l3 1 b
# sets
sadd s a b c
sadd s a
srem s a nomember
srem s nomember
smove s s2 b
smove s s2 b
smove s s2 c
sadd s3 1 2 3
spop s3 0
spop s3 1
spop s3 10
sadd s4 x
spop s4
sadd ia 1 2 3
sadd ib 2 3 4
sinterstore dest ia ib
sunionstore dest ia ib
sdiffstore dest ia ia
sinterstore dest ia nokey
sinter ia nokey
sismember nokey a
scard nokey
smembers nokey
sintercard 2 ia nokey
# hashes
hset h f 1 g 2
hset h f 1
hsetnx h f 1
hsetnx h n 1
hmset h a 1 b 2
hincrby h i 3
hincrbyfloat h fl 0.5
hdel h f g nofield
hdel h nofield
hdel h n a b i fl
hget nokey f
hgetall nokey
hexists nokey f
hincrby h2 x 1
# sorted sets
zadd z 1 a 2 b
zadd z 1 a
zadd z xx 3 a
zadd z nx 3 a
zadd z gt 1 a
zadd z lt ch 0 a
zadd z incr 1 c
zincrby z 2 c
zadd nz xx 1 a
zrem z a nomember
zrem z nomember
zpopmin z
zpopmax z 5
zadd z 1 a 2 b 3 c 4 d
zremrangebyrank z 0 0
zremrangebyscore z 2 2
zremrangebylex z [c [c
zremrangebyrank z 0 -1
zadd z1 1 a 2 b
zadd z2 2 b 3 c
zunionstore zd 2 z1 z2
zinterstore zd 2 z1 z2
zdiffstore zd 2 z1 z1
zrangestore zd z1 0 -1
zrangestore zd z1 5 10
zinterstore zd 2 z1 nokey
zmpop 2 nokey z1 min count 10
zscore nokey a
zrange nokey 0 -1
zunion 2 nokey z2
zrank nokey a
# bitmaps, HyperLogLog, geo, SORT
setbit bm 7 1
setbit bm 7 1
setbit bm 100 0
setbit nobm 3 0
getbit nobm 0
bitcount nobm
bitop or bdst bm nobm
bitop and bdst nobm nobm2
bitop not bdst2 nobm
bitfield bf set u8 0 255
bitfield bf get u8 0
bitfield bf incrby u8 0 0
bitfield bf overflow fail incrby u8 0 10
bitfield nobf get u8 0
bitfield_ro bf get u8 0
pfadd hl a b c
pfadd hl a
pfadd hl
pfadd hl2
pfcount hl
pfcount hl nohl
pfmerge hl3 hl hl2
pfmerge hl3
geoadd g 13.36 38.11 palermo 15.08 37.50 catania
geoadd g xx 13.36 38.12 palermo
geoadd g nx 13.36 38.12 palermo
geopos nog palermo
geosearchstore gs g frommember palermo byradius 200 km
geosearchstore gs g frommember palermo byradius 1 m
georadius g 15 37 200 km store gr
georadius g 15 37 200 km storedist gr
georadius g 0 0 1 km store gr
georadiusbymember g palermo 10 km store gr2
geosearchstore gs nog frommember palermo byradius 1 km
rpush sl 3 1 2
sort sl store sd
sort sl limit 5 5 store sd
sort nosl store sd2
sort_ro sl
# streams
xadd st 1-1 f v
xadd st 2-1 f v
xadd st maxlen 1 3-1 f v
xadd st maxlen 5 4-1 f v
xadd st nomkstream 5-1 f v
xadd nost nomkstream 1-1 f v
xadd st 1-1 f v
xdel st 0-1
xdel st 3-1 4-1
xadd st 6-1 f v 7-1
xtrim st maxlen 0
xtrim st maxlen 0
xtrim nost maxlen 0
xsetid st 10-1
xgroup create st g $
xgroup create st g $
xgroup create st2 g 0 mkstream
xgroup create nost g 0
xgroup createconsumer st g c1
xgroup createconsumer st g c1
xgroup setid st g 0
xadd st 11-1 f v
xreadgroup group g c2 count 1 streams st >
xreadgroup group g c2 count 1 streams st >
xack st g 11-1
xclaim st g c3 0 5-1
xautoclaim st g c4 0 0-0
xgroup delconsumer st g c1
xgroup delconsumer st g nobody
xgroup destroy st g
xgroup destroy st g
xread streams nost2 0
xrange nost - +
xlen nost
__blocked__ 1 xread block 0 streams bst $
xadd bst 1-1 f v
xgroup create bst2 g $ mkstream
__blocked__ 1 xreadgroup group g c9 block 0 streams bst2 >
xadd bst2 1-1 f v
del st st2 bst bst2
# restore, dump
hset d0 f v
__restore_from__ d0 d0b 0
set d1 v
__restore_from__ d1 d2 0
__restore_from__ d1 d2 0
__restore_from__ d1 d2 0 replace
__restore_from__ d1 d2 100000 replace
__restore_from__ d1 d2 1 replace absttl
__restore_from__ d1 d3 1 absttl
dump nokey
# another database
select 5
set x5 v
lpush l5 a
del x5 l5
select 0
# expiry: lazy (reads and writes meet the expired key) and active
set e1 v px 30
set e2 v px 30
set e3 v px 30
__sleep__ 60
get e1
set e2 w
lpush e3 x
set e4 v px 20
__sleep__ 400
# flushes and swaps raise no events
set fl v
swapdb 0 1
swapdb 0 1
flushdb
flushall
# blocked pops served by a later push
__blocked__ 1 blpop bq 0
rpush bq a
__blocked__ 1 brpop bq2 0
rpush bq2 a b
__blocked__ 1 blmove bq3 bdst left right 0
rpush bq3 a b
__blocked__ 1 brpoplpush bq4 bq4 0
rpush bq4 a
__blocked__ 1 blmpop 0 1 bq5 left count 5
rpush bq5 a b
__blocked__ 1 bzpopmin bz 0
zadd bz 1 a
__blocked__ 1 bzmpop 0 1 bz2 max count 1
zadd bz2 1 a 2 b
blpop bq2 0
bzpopmax bz2 0
# scripts: the events of the commands they run, in order
eval redis.call('set',KEYS[1],'v');redis.call('lpush',KEYS[2],'a');redis.call('del',KEYS[1]);return(1) 2 sk1 sk2
eval redis.call('rpop',KEYS[1]);redis.call('get','nokey');return(1) 1 sk2
eval_ro return(redis.call('get',KEYS[1])) 1 sk3
# a MULTI: each command's events, in order
multi
set tx 1
incr tx
del tx
exec
""")


FAMILIES = {
    "string": ["set {k} {v}", "set {k} {v} ex 100", "set {k} {v} nx", "set {k} {v} xx get", "incr {k}",
               "append {k} {v}", "setrange {k} 1 {v}", "getdel {k}", "getex {k} ex 100", "getex {k} persist",
               "mset {k} {v} {k2} {v}", "get {k}", "incrbyfloat {k} 0.5", "setnx {k} {v}"],
    "keys": ["del {k} {k2}", "expire {k} 100", "expire {k} 0", "persist {k}", "rename {k} {k2}",
             "renamenx {k} {k2}", "copy {k} {k2}", "copy {k} {k2} replace", "move {k} 1", "exists {k}",
             "type {k}", "unlink {k}", "touch {k} {k2}"],
    "list": ["lpush {k} {v} {v2}", "rpush {k} {v}", "lpop {k}", "rpop {k} 2", "lmove {k} {k2} left right",
             "rpoplpush {k} {k2}", "lrem {k} 0 {v}", "ltrim {k} 1 -1", "lset {k} 0 {v}",
             "linsert {k} before {v} {v2}", "lmpop 2 {k} {k2} left count 2", "lrange {k} 0 -1", "lpushx {k} {v}"],
    "set": ["sadd {k} {v} {v2}", "srem {k} {v}", "smove {k} {k2} {v}", "sinterstore {k} {k2} {k3}",
            "sunionstore {k} {k2} {k3}", "sdiffstore {k} {k2} {k3}", "smembers {k}", "sismember {k} {v}",
            "spop {k} 100"],
    "hash": ["hset {k} {v} 1", "hdel {k} {v}", "hincrby {k} {v} 2", "hincrbyfloat {k} {v} 1.5",
             "hsetnx {k} {v} 1", "hget {k} {v}", "hgetall {k}"],
    "zset": ["zadd {k} 1 {v} 2 {v2}", "zincrby {k} 1 {v}", "zrem {k} {v}", "zpopmin {k}", "zpopmax {k} 2",
             "zremrangebyrank {k} 0 0", "zremrangebyscore {k} 1 2", "zunionstore {k} 2 {k2} {k3}",
             "zinterstore {k} 2 {k2} {k3}", "zrangestore {k} {k2} 0 -1", "zmpop 1 {k} max", "zscore {k} {v}",
             "zadd {k} gt ch 3 {v}"],
}


def random_corpus(seed: int, n: int) -> list[list[str]]:
    rng = random.Random(seed)
    keys = ["k0", "k1", "k2", "k3", "k4"]
    values = ["a", "b", "c", "7"]
    templates = [t for family in FAMILIES.values() for t in family]
    out = []
    for _ in range(n):
        k, k2, k3 = rng.sample(keys, 3)
        v, v2 = rng.sample(values, 2)
        line = rng.choice(templates).format(k=k, k2=k2, k3=k3, v=v, v2=v2)
        out.append(line.split())
    return out


__all__ = ["BLOCKED", "FIXED", "RESTORE_FROM", "SLEEP", "random_corpus"]
