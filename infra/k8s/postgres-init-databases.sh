#!/bin/sh
# Runs once, when the PostgreSQL volume is empty: one database for Prefect's own state and one
# for the platform's metadata store (JOBSKILLS_STORAGE_URL), both owned by $POSTGRES_USER.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
SELECT 'CREATE DATABASE jobskills OWNER "$POSTGRES_USER"'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'jobskills')\gexec
SQL
