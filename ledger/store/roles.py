"""The service's database role, set up by the tables' owner (``cpf-ledger db setup``).

What the role may do, and what it may not (``tests/security/test_database_role.py`` tries each):

- events and chain rows: read and append only. PostgreSQL asks UPDATE privilege for the event
  store's ``LOCK TABLE … EXCLUSIVE``, so UPDATE is granted and a trigger refuses every UPDATE or
  DELETE but the owner's; DELETE and TRUNCATE are not granted. A second trigger refuses an event at
  a position the sequence did not assign.
- the read trail and the signed checkpoints: read and append only (they belong to the owner).
- no object in the log's schema, no new schema, no trigger change: the role creates nothing where
  the log lives. The views (disposable, rebuilt from the log) live in a schema of the role's own,
  named after it, which PostgreSQL's default search path (``"$user", public``) puts first.
- every trigger function runs with ``search_path = pg_catalog, pg_temp`` and qualified names, so no
  object the role creates can stand in for what it calls.
"""

from __future__ import annotations

from typing import Any

from ledger.store.recorders import CHAIN_TABLE, STATE_TABLE

AUDIT_TABLES = ("read_trail", "audit_checkpoints")


def _refuse_change_function(schema: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {schema}.cpf_refuse_change() RETURNS trigger "
        "LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$"
        " DECLARE owner name;"
        " BEGIN"
        "  SELECT t.tableowner INTO owner FROM pg_catalog.pg_tables AS t"
        "   WHERE t.tablename = TG_TABLE_NAME AND t.schemaname = TG_TABLE_SCHEMA;"
        "  IF NOT pg_catalog.pg_has_role(current_user, owner, 'MEMBER') THEN"
        "   RAISE EXCEPTION 'the log is append-only: % refused on %', TG_OP, TG_TABLE_NAME"
        "    USING ERRCODE = 'insufficient_privilege';"
        "  END IF;"
        "  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;"
        " END $$"
    )


def _assigned_position_function(schema: str, sequence: str, table: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {schema}.cpf_assigned_position() RETURNS trigger "
        "LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$"
        " BEGIN"
        # A position this session drew from the sequence, after every position already taken:
        # the recorder draws a save's positions at once, then copies its events in that order.
        f"  IF NEW.notification_id IS NULL"
        f"   OR NEW.notification_id > pg_catalog.currval('{sequence}')"
        f"   OR NEW.notification_id <= (SELECT pg_catalog.max(notification_id) FROM {table}) THEN"
        "   RAISE EXCEPTION 'an event takes the position the sequence assigns it'"
        "    USING ERRCODE = 'insufficient_privilege';"
        "  END IF;"
        "  RETURN NEW;"  # (currval before any nextval in the session is an error too)
        " END $$"
    )


def create_audit_tables(conn: Any, schema: str = "public") -> None:
    """The read trail and the checkpoints, owned by whoever runs this (the owner)."""
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {schema}.read_trail (id BIGSERIAL PRIMARY KEY, "
        "at TEXT NOT NULL, principal TEXT NOT NULL, via TEXT NOT NULL, agent_id TEXT NOT NULL)"
    )
    conn.execute(
        f"CREATE INDEX IF NOT EXISTS read_trail_agent ON {schema}.read_trail (agent_id, id)"
    )
    conn.execute(
        f"CREATE INDEX IF NOT EXISTS read_trail_principal ON {schema}.read_trail (principal, id)"
    )
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {schema}.audit_checkpoints (position BIGINT NOT NULL, "
        "chain TEXT NOT NULL, created_at TEXT PRIMARY KEY, public_key TEXT NOT NULL, "
        "signature TEXT NOT NULL)"
    )


def create_app_role(database_url: str, role: str, password: str | None, events_table: str) -> None:
    """Create (or update) the service's database role; run as the owner of the event tables."""
    import psycopg
    from psycopg import sql

    ident = sql.Identifier
    schema = "public"
    with psycopg.connect(database_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        conn.execute(
            sql.SQL("ALTER ROLE {} LOGIN" if exists else "CREATE ROLE {} LOGIN").format(ident(role))
        )
        if password:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(ident(role), sql.Literal(password))
            )
        database = ident(conn.info.dbname)
        conn.execute(sql.SQL("REVOKE CREATE ON DATABASE {} FROM PUBLIC").format(database))
        conn.execute(sql.SQL("REVOKE CREATE ON DATABASE {} FROM {}").format(database, ident(role)))
        conn.execute(
            sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(database, ident(role))
        )
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM {}").format(ident(role)))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident(role)))
        # The views' own schema: the role's, first on its default search path ("$user").
        conn.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
                ident(role), ident(role)
            )
        )
        create_audit_tables(conn, schema)
        conn.execute(_refuse_change_function(schema))
        sequence = conn.execute(
            "SELECT pg_get_serial_sequence(%s, 'notification_id')", (f"{schema}.{events_table}",)
        ).fetchone()
        assert sequence is not None and sequence[0], "the events table has no sequence"
        conn.execute(_assigned_position_function(schema, sequence[0], f"{schema}.{events_table}"))
        for table in (events_table, CHAIN_TABLE, *AUDIT_TABLES):
            qualified = sql.SQL("{}.{}").format(ident(schema), ident(table))
            conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(qualified, ident(role)))
            granted = (
                "SELECT, INSERT, UPDATE"
                if table in (events_table, CHAIN_TABLE)
                else ("SELECT, INSERT")
            )
            conn.execute(
                sql.SQL("GRANT " + granted + " ON {} TO {}").format(qualified, ident(role))
            )
            trigger = ident(f"{table}_append_only")
            conn.execute(sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(trigger, qualified))
            conn.execute(
                sql.SQL(
                    "CREATE TRIGGER {} BEFORE UPDATE OR DELETE ON {} "
                    "FOR EACH ROW EXECUTE FUNCTION {}.cpf_refuse_change()"
                ).format(trigger, qualified, ident(schema))
            )
        # The agents' folded states: a cache of the events the service rewrites at each movement.
        states = sql.SQL("{}.{}").format(ident(schema), ident(STATE_TABLE))
        conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(states, ident(role)))
        conn.execute(
            sql.SQL("GRANT SELECT, INSERT, UPDATE ON {} TO {}").format(states, ident(role))
        )
        events = sql.SQL("{}.{}").format(ident(schema), ident(events_table))
        conn.execute(sql.SQL("DROP TRIGGER IF EXISTS cpf_assigned_position ON {}").format(events))
        conn.execute(
            sql.SQL(
                "CREATE TRIGGER cpf_assigned_position BEFORE INSERT ON {} "
                "FOR EACH ROW EXECUTE FUNCTION {}.cpf_assigned_position()"
            ).format(events, ident(schema))
        )
        conn.execute(
            sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(sql.SQL(sequence[0]), ident(role))
        )
        trail_sequence = conn.execute(
            "SELECT pg_get_serial_sequence(%s, 'id')", (f"{schema}.read_trail",)
        ).fetchone()
        assert trail_sequence is not None
        conn.execute(
            sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(
                sql.SQL(trail_sequence[0]), ident(role)
            )
        )
        # The library's composite type for its insert function, and its tracking tables if any.
        conn.execute(
            sql.SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {}").format(ident(role))
        )
