"""ACL SETUSER / GETUSER / LIST / USERS / CAT / DRYRUN / GENPASS / DELUSER / WHOAMI / HELP
against redis-server 7.0: replies and errors, RESP2 and RESP3."""

from __future__ import annotations

import shlex

import pytest

from tests.acl.support import EXTRA_COMMANDS, AclPair, norm_getuser, norm_list

H1 = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"

# One SETUSER each (applied to a user that already has RULE_BASE), then GETUSER and LIST.
RULE_SETS = """
on >p1 >p2 ~k* %R~r* %RW~w* &c* +@string -get +config|get +select|0
on nopass allkeys allchannels allcommands
off resetpass
skip-sanitize-payload
sanitize-payload
reset
+@all -@dangerous +flushall
nocommands +@read +@write -@keyspace +del
+@all -@all +client -client|kill +select|0 +select|1 +select|0 +debug|digest
+@all -get +get
+@all -@admin +config|get -config +config
-@all +@pubsub -publish +@hash -hset
allcommands -client|kill -config|set -acl
+@all -@slow
-@all +@fast +@slow
+@all -@write -@read
-@all +@keyspace +@string +@list +@hash +@set +@sortedset +@stream +@bitmap +@geo +@hyperloglog
+acl|whoami +acl|cat
+get|foo +get|FOO +get|bar
+set -set|foo
%R~a %W~a %W~b ~c %RW~d
%r~x %w~y %wR~z
~a ~a &b &b
~* resetkeys ~x
&* resetchannels &y &z*
allchannels
"(+get ~sel*)" "(+set %W~w*)"
( +hget ~h* ) (~x) clearselectors (+lpush)
"(+get ~a" "~b)"
()
"(~a b)"
#5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D1542D8
#zz
!5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8
<never-set
>p1 <p1
#5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8 !5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8
+nosuch
+@nosuch
-@
+
+config|get|foo
+config|
+config|nosuch
-get|foo
-config|get
bogus
%X~a
%~a
%RR~a
%R
%R~
~
"~a b"
&
"&a b"
~* ~a
allkeys %R~a
&* &a
ON OFF NOPASS
+GET +Config|GET -@STRING +@String
"" on
"(" on
on "(~a" "+get"
"""

RULE_BASE = ["on", ">secret", "~base*", "+ping"]


def _rule_sets() -> list[list[str]]:
    return [shlex.split(line) for line in RULE_SETS.strip().splitlines()]


@pytest.mark.parametrize("proto", [2, 3])
def test_setuser_then_getuser_and_list_match_redis(pair: AclPair, proto: int) -> None:
    for rules in _rule_sets():
        pair.same("ACL", "DELUSER", "u")
        pair.same("ACL", "SETUSER", "u", *RULE_BASE)
        pair.same("ACL", "SETUSER", "u", *rules, proto=proto)
        pair.same("ACL", "GETUSER", "u", proto=proto, norm=norm_getuser)
    pair.same("ACL", "LIST", proto=proto, norm=norm_list)
    pair.same("ACL", "USERS", proto=proto)


def test_new_users_and_the_default_user(pair: AclPair) -> None:
    for proto in (2, 3):
        pair.same("ACL", "GETUSER", "default", proto=proto, norm=norm_getuser)
        pair.same("ACL", "GETUSER", "nosuch", proto=proto)
    pair.same("ACL", "SETUSER", "fresh")
    pair.same("ACL", "GETUSER", "fresh", norm=norm_getuser)
    pair.same("CONFIG", "SET", "acl-pubsub-default", "allchannels")
    pair.same("ACL", "SETUSER", "fresh2", "(+get)")
    pair.same("ACL", "SETUSER", "fresh", "reset")
    pair.same("ACL", "LIST", norm=norm_list)
    pair.same("ACL", "SETUSER", "binary\x01name", "on")
    pair.same("ACL", "SETUSER", "with space")
    pair.same("ACL", "SETUSER", "tab\tname")
    pair.same("ACL", "USERS")
    pair.same("ACL", "WHOAMI")


def test_deluser(pair: AclPair) -> None:
    for name in ("a", "b", "c"):
        pair.same("ACL", "SETUSER", name, "on")
    pair.same("ACL", "DELUSER", "a", "default", "b")
    pair.same("ACL", "DELUSER", "a", "nosuch", "b", "b")
    pair.same("ACL", "USERS")
    pair.same("ACL", "DELUSER")


def test_subcommand_errors_and_help(pair: AclPair) -> None:
    for line in ("ACL", "ACL FOO", "ACL HELP", "ACL HELP x", "ACL WHOAMI x", "ACL USERS x", "ACL LIST x",
                 "ACL GETUSER", "ACL GETUSER a b", "ACL SETUSER", "ACL CAT a b", "ACL GENPASS 1 2",
                 "ACL LOG 1 2", "ACL LOG abc", "ACL LOG 99999999999999999999", "ACL DRYRUN default",
                 "ACL GENPASS 0", "ACL GENPASS -1", "ACL GENPASS 4097", "ACL GENPASS x", "ACL SAVE", "ACL LOAD",
                 "ACL SAVE x", "ACL load"):
        for proto in (2, 3):
            pair.same(*shlex.split(line), proto=proto)


def test_genpass_sizes(pair: AclPair) -> None:
    for bits, chars in ((None, 64), (1, 1), (5, 2), (128, 32), (4096, 1024)):
        args = ["ACL", "GENPASS"] + ([str(bits)] if bits else [])
        for side in pair.sides:
            tag, value = side.admin().call(*args)
            assert tag == "bulk" and len(value) == chars and all(ch in b"0123456789abcdef" for ch in value)


def test_cat(pair: AclPair) -> None:
    for proto in (2, 3):
        categories = pair.same("ACL", "CAT", proto=proto)
        for _tag, name in categories[1]:
            mine, theirs = pair.both("ACL", "CAT", name.upper(), proto=proto)
            assert mine[0] == theirs[0] == "array"
            listed = {x[1] for x in mine[1]}
            assert len(listed) == len(mine[1])
            assert listed - EXTRA_COMMANDS == {x[1] for x in theirs[1]}, name
        pair.same("ACL", "CAT", "nosuch", proto=proto)


# Users for DRYRUN: commands with every key spec shape, read/write key patterns, channels.
DRYRUN_USERS = [
    "reader on nopass +@all %R~r* ~k* &ch*",
    "writer on nopass +@all %W~w* ~k* resetchannels &news",
    "mixed on nopass -@all +@read +set +zunionstore +sort +publish +subscribe +psubscribe +select|0 ~k* %R~r*"
    " %W~w* &ch* (+get ~sel*) (+@write %W~sel*)",
    "nothing on nopass",
]
DRYRUN_COMMANDS = """
get k1
get r1
get w1
get sel1
get
set k1 v
set r1 v
set w1 v
set w1 v get
set r1 v GET
set sel1 v
mset k1 v w1 v
mget k1 r1 w1
del r1
copy r1 w1
copy w1 r1
lmove r1 w1 left right
blmove r1 w1 left right 0
rename r1 w1
zunionstore w1 2 r1 r2
zunionstore w1 2 r1 k2
zunionstore r1 2 k1 k2
zunionstore w1 x r1
zunionstore w1 0 r1
zunionstore w1 3 r1 k1
zinter 2 r1 k1
zinter 2 r1 w1
sintercard 1 w1
lmpop 2 r1 w1 left
blmpop 0 1 w1 left
eval "return 1" 1 w1
eval "return 1" 0 w1
eval "return 1" x w1
eval_ro "return 1" 1 r1
fcall f 1 r1
sort k1
sort r1 store w1
sort r1 store r2
sort r1 by nosort store w1 store r9
sort r1 limit 0 1 get w*
sort_ro r1 by x
sort_ro w1
migrate h 1 r1 0 5
migrate h 1 "" 0 5 keys r1 w1
migrate h 1 "" 0 5 auth p keys k1 k2
xread streams r1 0
xread count 1 streams r1 w1 0 0
xread streams r1
xreadgroup group g c streams r1 0
georadius r1 0 0 1 km store w1
georadius r1 0 0 1 km store
georadiusbymember r1 m 1 km storedist r2
geosearchstore w1 r1 frommember m byradius 1 km
bitfield r1 get u8 0
bitfield r1 set u8 0 1
bitfield r1 overflow wrap get u8 0
bitfield_ro r1 get u8 0
bitop and w1 r1 r2
object encoding r1
object encoding w1
memory usage w1
touch r1 w1
publish ch1 m
publish news m
publish other m
spublish ch1 m
subscribe ch1 ch2
subscribe ch1 other
psubscribe ch*
psubscribe ch1*
ssubscribe news
unsubscribe other
select 0
select 1
config get maxmemory
client kill id 1
acl whoami
auth a b
hello 3
nosuchcommand a
config nosuch
config
object
"""


@pytest.mark.parametrize("proto", [2, 3])
def test_dryrun_matches_redis(pair: AclPair, proto: int) -> None:
    """ACL DRYRUN runs the whole check (commands, first args, keys by key spec, channels)."""
    for user in DRYRUN_USERS:
        pair.same("ACL", "SETUSER", *shlex.split(user))
    for user in DRYRUN_USERS:
        name = user.split()[0]
        for line in DRYRUN_COMMANDS.strip().splitlines():
            pair.same("ACL", "DRYRUN", name, *shlex.split(line), proto=proto)
    pair.same("ACL", "DRYRUN", "nosuch", "get", "k")
