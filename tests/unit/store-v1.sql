-- SPDX-License-Identifier: GPL-2.0-or-later
-- A store of schema 1 (before origins), as nftally wrote it at commit
-- 27ea742: store_open of table nftally, three reports recorded with
-- store_record_report (seq 1 at 2026-01-01 00:01 UTC: 198.18.0.1 a,
-- 2001:db8::1 e, 198.18.0.2 b of class national; seq 2 at 00:02: a; seq 3
-- a day later: a), store_rollup a day later with store_keep_intervals 1h
-- (seq 1 and 2 into their UTC hour, their reports rows deleted), and
-- store_carry of 198.18.0.9 z; then `sqlite3 DB .dump`.  test_store
-- migrates it.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
INSERT INTO meta VALUES('last_seq',3);
INSERT INTO meta VALUES('last_time',1767312060);
INSERT INTO meta VALUES('schema',1);
INSERT INTO meta VALUES('table','nftally');
CREATE TABLE series(  id INTEGER PRIMARY KEY, addr TEXT NOT NULL, label TEXT NOT NULL,  class TEXT NOT NULL DEFAULT '', UNIQUE(addr, label, class));
INSERT INTO series VALUES(1,'198.18.0.1','a','');
INSERT INTO series VALUES(2,'2001:db8::1','e','');
INSERT INTO series VALUES(3,'198.18.0.2','b','national');
INSERT INTO series VALUES(4,'198.18.0.9','z','');
CREATE TABLE usage(  tier INTEGER NOT NULL, t INTEGER NOT NULL, series INTEGER NOT NULL,  in_bytes INTEGER NOT NULL, in_packets INTEGER NOT NULL,  out_bytes INTEGER NOT NULL, out_packets INTEGER NOT NULL,  PRIMARY KEY(tier, t, series)) WITHOUT ROWID;
INSERT INTO usage VALUES(0,1767312060,1,7,1,0,0);
INSERT INTO usage VALUES(1,1767225600,1,1100,11,550,6);
INSERT INTO usage VALUES(1,1767225600,2,200,2,0,0);
INSERT INTO usage VALUES(1,1767225600,3,300,3,30,3);
CREATE TABLE reports(  seq INTEGER NOT NULL, t INTEGER NOT NULL, PRIMARY KEY(seq, t)) WITHOUT ROWID;
INSERT INTO reports VALUES(3,1767312060);
CREATE TABLE totals(  series INTEGER PRIMARY KEY, in_bytes INTEGER NOT NULL,  in_packets INTEGER NOT NULL, out_bytes INTEGER NOT NULL,  out_packets INTEGER NOT NULL);
INSERT INTO totals VALUES(1,1107,12,550,6);
INSERT INTO totals VALUES(2,200,2,0,0);
INSERT INTO totals VALUES(3,300,3,30,3);
CREATE TABLE carried(  series INTEGER PRIMARY KEY, in_bytes INTEGER NOT NULL,  in_packets INTEGER NOT NULL, out_bytes INTEGER NOT NULL,  out_packets INTEGER NOT NULL);
INSERT INTO carried VALUES(4,5,1,5,1);
COMMIT;
