"""The sign-in page's "Forgot password?": a set-password link to the address asked for,
answered the same whether or not an account has it (nobody learns who has an account), and
rate-limited per client address like sign-in (services/signin.py), so it can neither probe
addresses nor flood them."""

from datetime import datetime, timedelta

from sqlalchemy import func, select

from records.audit import append_audit
from records.database import Database
from records.models import Organisation, SetPasswordLink, SignInAttempt, User, utcnow
from services.account_mail import RESET, LinkMail, link_mail
from services.signin import TooManyAttempts
from services.user_admin import LINK_LIFETIME, new_link
from settings import Settings

# The sign_in_attempts row of a request: counted apart from failed sign-ins, and under no
# username, so a request never breaks an account's run of failures (its lockout).
REQUESTED = "reset"
# Links one account may be sent per rate window, however many addresses ask: a person is
# not mailed a stream of links by someone who knows their address.
LINKS_PER_WINDOW = 3
ANSWER = (
    "If an account has this address, a link to set its password is on its way; it works once, "
    f"for {LINK_LIFETIME.days} days."
)


async def request_password_reset(
    database: Database,
    settings: Settings,
    email: str,
    client_address: str | None,
    now: datetime | None = None,
) -> list[LinkMail]:
    """The links to mail (none when no active account has the address); TooManyAttempts when
    this address asked too often in the window."""
    now = now or utcnow()
    window = timedelta(minutes=settings.sign_in_rate_window_minutes)
    limit = settings.sign_in_rate_limit
    async with database.transaction() as session:
        asked = list(
            await session.scalars(
                select(SignInAttempt.at)
                .where(
                    SignInAttempt.client_address == client_address,
                    SignInAttempt.outcome == REQUESTED,
                    SignInAttempt.at > now - window,
                )
                .order_by(SignInAttempt.at)
            )
        )
        if len(asked) >= limit:
            raise TooManyAttempts(
                "Too many password requests from your address; wait before trying again.",
                (asked[-limit] + window - now).total_seconds(),
            )
        session.add(
            SignInAttempt(username="", client_address=client_address, at=now, outcome=REQUESTED)
        )
        users = await session.scalars(
            select(User)
            .where(func.lower(User.email) == email.strip().lower(), User.active.is_(True))
            .order_by(User.id)
        )
        mails = []
        for user in list(users):
            recent = await session.scalar(
                select(func.count())
                .select_from(SetPasswordLink)
                .where(
                    SetPasswordLink.user_id == user.id, SetPasswordLink.created_at > now - window
                )
            )
            if (recent or 0) >= LINKS_PER_WINDOW:
                continue
            link = await new_link(session, user, settings.public_url, now)
            organisation = await session.get_one(Organisation, user.organisation_id)
            append_audit(
                session,
                organisation_id=user.organisation_id,
                username=None,  # nobody signed in asked for it
                action="user.set_password_link",
                client_address=client_address,
                detail={
                    "account": user.username,
                    "kind": RESET,
                    "via": "forgot-password",
                    "sent_to": user.email,
                    "expires_at": link.expires_at.isoformat(),
                },
            )
            mails.append(link_mail(RESET, user, organisation.name, link))
    return mails
