#!/usr/bin/env python3
"""Writes a database shaped like the original Django app's (its two tables, its datetime and
password formats) with USERS users of TASKS tasks each, for timing `taskmaster-local import-django`.

    bench/django_fixture.py OUT.sqlite3 [USERS, default 100] [TASKS per user, default 1000]

Its users are user0, user1, ... (emails user0@example.com, ...), each with the password s3cret.
OUT must not exist yet.
"""
import argparse
import base64
import datetime
import hashlib
import os
import sqlite3
import sys
import uuid


def count(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("out", metavar="OUT.sqlite3", help="the database to write (a new file)")
parser.add_argument("users", metavar="USERS", type=count, nargs="?", default=100, help="default 100")
parser.add_argument("tasks", metavar="TASKS", type=count, nargs="?", default=1000,
                    help="tasks per user, default 1000")
args = parser.parse_args()
out, users, tasks = args.out, args.users, args.tasks
if os.path.exists(out):
    sys.exit(f"django_fixture: {out} exists already: give a new file")
db = sqlite3.connect(out)
db.executescript(
    """
    CREATE TABLE accounts_user (id char(32) PRIMARY KEY, username varchar(255) UNIQUE,
        email varchar(255) UNIQUE, password varchar(128) NULL, first_name varchar(255) NULL,
        last_name varchar(255) NULL, last_login datetime NULL, date_joined datetime,
        date_created datetime, last_updated datetime, is_superuser bool, is_staff bool,
        is_active bool);
    CREATE TABLE taskmanager_task (id char(32) PRIMARY KEY,
        user_id char(32) NULL REFERENCES accounts_user(id), title varchar(100),
        description text, status_task varchar(20), date_created datetime, last_updated datetime);
    """
)
key = base64.b64encode(hashlib.pbkdf2_hmac("sha256", b"s3cret", b"benchsalt", 1000)).decode()
password = f"pbkdf2_sha256$1000$benchsalt${key}"
start = datetime.datetime(2024, 5, 16, 4, 17, 48, 532089)
fmt = "%Y-%m-%d %H:%M:%S.%f"
for u in range(users):
    uid = uuid.uuid4().hex
    joined = (start + datetime.timedelta(minutes=u)).strftime(fmt)
    db.execute(
        "INSERT INTO accounts_user VALUES (?, ?, ?, ?, 'Bench', 'User', NULL, ?, ?, ?, 0, 0, 1)",
        (uid, f"user{u}", f"user{u}@example.com", password, joined, joined, joined),
    )
    rows = []
    for t in range(tasks):
        created = (start + datetime.timedelta(days=1, seconds=u * tasks + t)).strftime(fmt)
        status = ("TO DO", "IN PROGRESS", "DONE")[t % 3]
        rows.append((uuid.uuid4().hex, uid, f"task {t}", "imported for a benchmark", status, created, created))
    db.executemany("INSERT INTO taskmanager_task VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
db.commit()
print(f"{out}: {users} users, {users * tasks} tasks")
