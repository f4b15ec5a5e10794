"""Each person chooses how reminders reach them: as they fall due, or in the daily digest."""

from sqlalchemy import select

from records.models import AuditEntry, User
from tests.support.stack import ApiStack


async def test_a_user_sets_their_mail_preference_and_nothing_else(api_stack: ApiStack) -> None:
    alice = await api_stack.token("alice")
    me = await api_stack.http.get("/api/me", headers=alice)
    assert me.status_code == 200
    assert (me.json()["username"], me.json()["mail_preference"]) == ("alice", "immediate")

    changed = await api_stack.http.patch(
        "/api/me", json={"mail_preference": "digest"}, headers=alice
    )
    assert changed.status_code == 200 and changed.json()["mail_preference"] == "digest"
    for body in ({"mail_preference": "weekly"}, {"roles": ["admin"]}, {}):
        refused = await api_stack.http.patch("/api/me", json=body, headers=alice)
        assert refused.status_code == 422, body
    unsigned = await api_stack.http.patch("/api/me", json={"mail_preference": "digest"})
    assert unsigned.status_code == 401

    async with api_stack.database.sessions() as session:
        user = await session.scalar(select(User).where(User.username == "alice"))
        audited = list(
            await session.scalars(
                select(AuditEntry.detail).where(AuditEntry.action == "user.mail_preference")
            )
        )
    assert user is not None and user.mail_preference == "digest" and user.roles == ["advisor"]
    assert audited == [{"mail_preference": "digest"}]
