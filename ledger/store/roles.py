"""The service's database role: it appends events and chain rows and never changes them."""

from __future__ import annotations

from ledger.store.recorders import CHAIN_TABLE


def create_app_role(database_url: str, role: str, password: str | None, events_table: str) -> None:
    """Create (or update) the service's database role (run as the tables' owner).

    The role may read and append events and chain rows, and never UPDATE, DELETE or TRUNCATE
    them. PostgreSQL asks for UPDATE privilege to take the table lock the event store needs, so
    UPDATE is granted and a trigger refuses it to everyone but the owner; DELETE and TRUNCATE are
    not granted at all. The views' tables are the role's to rebuild.
    """
    import psycopg
    from psycopg import sql

    ident = sql.Identifier
    with psycopg.connect(database_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        conn.execute(
            sql.SQL("ALTER ROLE {} LOGIN" if exists else "CREATE ROLE {} LOGIN").format(ident(role))
        )
        if password:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(ident(role), sql.Literal(password))
            )
        conn.execute(
            sql.SQL("GRANT CONNECT, CREATE ON DATABASE {} TO {}").format(
                ident(conn.info.dbname), ident(role)
            )
        )
        conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(ident(role)))
        conn.execute(sql.SQL("GRANT ALL ON ALL TABLES IN SCHEMA public TO {}").format(ident(role)))
        conn.execute(
            sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(
                ident(role)
            )
        )
        conn.execute(
            "CREATE OR REPLACE FUNCTION cpf_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN"
            "  IF NOT pg_has_role(current_user, (SELECT tableowner FROM pg_tables"
            "     WHERE tablename = TG_TABLE_NAME AND schemaname = TG_TABLE_SCHEMA), 'MEMBER') THEN"
            "   RAISE EXCEPTION 'the event log is append-only: % refused on %', TG_OP, TG_TABLE_NAME"
            "    USING ERRCODE = 'insufficient_privilege';"
            "  END IF;"
            "  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;"
            " END $$"
        )
        for table in (events_table, CHAIN_TABLE):
            conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(ident(table), ident(role)))
            conn.execute(
                sql.SQL("GRANT SELECT, INSERT, UPDATE ON {} TO {}").format(
                    ident(table), ident(role)
                )
            )
            trigger = ident(f"{table}_append_only")
            conn.execute(sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(trigger, ident(table)))
            conn.execute(
                sql.SQL(
                    "CREATE TRIGGER {} BEFORE UPDATE OR DELETE ON {} "
                    "FOR EACH ROW EXECUTE FUNCTION cpf_refuse_change()"
                ).format(trigger, ident(table))
            )
