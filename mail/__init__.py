"""Mail: render with Jinja2, send with aiosmtplib through an outbox, at most one per recipient.

- `mail.render`: the wording — which kinds of mail exist, their templates, subject and dates.
- `mail.recipients`: who is told, within the case's organisation, each address once.
- `mail.smtp`: the message on the wire (headers, stable Message-ID) and the SMTP transaction.
- `mail.outbox`: one row per message so that a retry never sends twice.

The package knows nothing of Temporal: `activities/mail.py` and `activities/reports.py` are the
activities on top of it, and turn its errors into retryable or non-retryable failures.

Mail carries the case reference, the deadline and a link, never the summary or the employee's
name: whatever is sensitive stays behind the link, where reading it is audited.
"""
