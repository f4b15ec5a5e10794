"""Fill a PostgreSQL database with 1 million cases over 200 organisations and 5 years.

Everything is generated inside PostgreSQL (generate_series, one INSERT … SELECT per table),
so it takes minutes, not hours: 200 organisations with 1,000 staff each, 1,000,000 cases
(about 95% closed), their case events (opened, advanced, closed) and their stage stays, and
a suspension on one disciplinary case in thirty. VACUUM ANALYZE last, so the planner sees the
real sizes and index-only scans work as in a database autovacuum has visited.

    .venv/bin/python bench/reporting_data.py postgresql+psycopg://postgres@127.0.0.1/ercase_bench
"""

import argparse
import time

import psycopg
from sqlalchemy.engine import make_url

from records.migrate import upgrade

ORGANISATIONS = 200
STAFF_PER_ORGANISATION = 1000
CASES = 1_000_000

STEPS = [
    (
        "organisations",
        """INSERT INTO organisations (id, code, name)
           SELECT g, 'B' || g, 'Bench Trust ' || g FROM generate_series(1, {orgs}) g""",
    ),
    (
        "staff",
        """INSERT INTO staff (organisation_id, employee_id, division, department, ethnic_group,
                              disability, line_manager_id)
           SELECT o, 'E' || s,
                  (ARRAY['Medicine','Surgery','Women and Children','Estates'])[1 + s % 4],
                  'Department ' || (s % 12),
                  (ARRAY['White','White - Irish','White','Asian or Asian British',
                         'Black or Black British','Mixed',NULL])[1 + (s * 7) % 7],
                  (ARRAY['No','No','No','Yes',NULL])[1 + (s * 3) % 5],
                  'E' || (1 + s % 50)
           FROM generate_series(1, {orgs}) o, generate_series(1, {staff}) s""",
    ),
    (
        "generated cases",
        """CREATE UNLOGGED TABLE bench_cases AS
           SELECT n, 1 + n % {orgs} AS org,
                  (ARRAY['disciplinary','grievance','capability','investigation','appeal',
                         'enquiry'])[1 + (n::bigint * 7919) % 6] AS ctype,
                  now() - random() * interval '1826 days' AS opened,
                  (2 + 150 * power(random(), 2)) * interval '1 day' AS takes,
                  random() AS split,
                  1 + (n * 31) % {staff} AS person,
                  1 + n % 40 AS advisor
           FROM generate_series(1, {cases}) n""",
    ),
    (
        "cases",
        """INSERT INTO cases (id, organisation_id, case_type, policy_version, employee_id, summary,
                              risk, advisor, division, department, opened_by, status, stage_key,
                              stage_name, stage_started_at, stage_due_at, due_at, opened_at,
                              closed_at, breached, actions, last_seq)
           SELECT 'B' || n, org, ctype, 1, 'E' || person, 'Generated case',
                  CASE WHEN n % 5 = 0 THEN 'urgent' ELSE 'routine' END, 'advisor' || advisor,
                  (ARRAY['Medicine','Surgery','Women and Children','Estates'])[1 + person % 4],
                  'Department ' || (person % 12), 'advisor' || advisor,
                  CASE WHEN done THEN 'closed' ELSE 'open' END,
                  CASE WHEN done THEN 'closed' WHEN second THEN key2 ELSE key1 END,
                  CASE WHEN done THEN 'Closed' ELSE 'Stage' END,
                  CASE WHEN done THEN opened + takes WHEN second THEN opened + takes * split
                       ELSE opened END,
                  CASE WHEN done THEN NULL
                       WHEN second THEN opened + takes * split + interval '21 days'
                       ELSE opened + interval '7 days' END,
                  opened + interval '60 days', opened,
                  CASE WHEN done THEN opened + takes END,
                  NOT done AND now() > opened + interval '60 days', '[]', 3
           FROM (SELECT *, opened + takes < now() AS done, opened + takes * split < now() AS second,
                        CASE ctype WHEN 'disciplinary' THEN 'assessment'
                                   WHEN 'capability' THEN 'informal'
                                   WHEN 'investigation' THEN 'terms_of_reference'
                                   ELSE 'received' END AS key1,
                        CASE ctype WHEN 'disciplinary' THEN 'investigation'
                                   WHEN 'capability' THEN 'formal_first'
                                   WHEN 'investigation' THEN 'interviews'
                                   ELSE 'hearing' END AS key2
                 FROM bench_cases) g""",
    ),
    (
        "stage stays",
        """INSERT INTO stage_intervals (case_id, organisation_id, kind, key, started_at, ended_at,
                                      due_at)
           SELECT c.id, c.organisation_id, 'stage', s.key, s.started, s.ended, s.due
           FROM cases c JOIN bench_cases g ON c.id = 'B' || g.n
           CROSS JOIN LATERAL (VALUES
             (CASE c.case_type WHEN 'disciplinary' THEN 'assessment'
                   WHEN 'capability' THEN 'informal'
                   WHEN 'investigation' THEN 'terms_of_reference' ELSE 'received' END,
              g.opened, CASE WHEN g.opened + g.takes * g.split < now()
                             THEN g.opened + g.takes * g.split END,
              g.opened + interval '7 days'),
             (CASE c.case_type WHEN 'disciplinary' THEN 'investigation' WHEN 'capability'
                   THEN 'formal_first' WHEN 'investigation' THEN 'interviews' ELSE 'hearing' END,
              g.opened + g.takes * g.split, c.closed_at,
              g.opened + g.takes * g.split + interval '21 days')
           ) AS s(key, started, ended, due)
           WHERE s.started < now()""",
    ),
    (
        "suspensions",
        """INSERT INTO stage_intervals (case_id, organisation_id, kind, key, started_at, ended_at,
                                      due_at)
           SELECT c.id, c.organisation_id, 'suspension', 'suspension',
                  c.opened_at + interval '1 day',
                  CASE WHEN c.closed_at IS NOT NULL THEN c.closed_at END, NULL
           FROM cases c WHERE c.case_type = 'disciplinary' AND substr(c.id, 2)::int % 30 = 0
             AND c.opened_at + interval '1 day' < now()""",
    ),
    (
        "case events",
        """INSERT INTO case_events (case_id, seq, kind, at, actor, stage_key, detail)
           SELECT i.case_id, row_number() OVER (PARTITION BY i.case_id ORDER BY i.started_at),
                  CASE WHEN i.started_at = c.opened_at THEN 'opened' ELSE 'advanced' END,
                  i.started_at, c.advisor, i.key, '{{}}'::json
           FROM stage_intervals i JOIN cases c ON c.id = i.case_id WHERE i.kind = 'stage'
           UNION ALL
           SELECT id, 3, 'closed', closed_at, advisor, 'closed', '{{}}'::json
           FROM cases WHERE closed_at IS NOT NULL""",
    ),
    ("drop generated", "DROP TABLE bench_cases"),
    # VACUUM too: it marks the pages all-visible, as autovacuum would have in a live database,
    # so that index-only scans need not visit the table.
    ("vacuum analyze", "VACUUM ANALYZE"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url", help="an empty PostgreSQL database (it is migrated first)")
    parser.add_argument("--cases", type=int, default=CASES)
    arguments = parser.parse_args()
    upgrade(arguments.database_url)
    url = make_url(arguments.database_url)
    dsn = f"host={url.host} port={url.port or 5432} user={url.username} dbname={url.database}"
    sizes = {"orgs": ORGANISATIONS, "staff": STAFF_PER_ORGANISATION, "cases": arguments.cases}
    began = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("SELECT setseed(0.42)")
        for name, statement in STEPS:
            step = time.perf_counter()
            rows = connection.execute(statement.format(**sizes)).rowcount
            print(f"{name:<16} {rows:>10,} rows  {time.perf_counter() - step:6.1f} s", flush=True)
    print(f"{'total':<16} {'':>10}       {time.perf_counter() - began:6.1f} s")


if __name__ == "__main__":
    main()
