"""The employer's side: teams and the HR people in them."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from candor.db.base import Base, IdMixin, TimestampMixin
from candor.db.types import BigIntId, enum_column
from candor.models.enums import Role


class Team(IdMixin, TimestampMixin, Base):
    __tablename__ = "teams"

    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))

    memberships: Mapped[list[TeamMembership]] = relationship(back_populates="team")


class HRUser(IdMixin, TimestampMixin, Base):
    __tablename__ = "hr_users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The console's language for this user; None means the default (zh-CN).
    locale: Mapped[str | None] = mapped_column(String(16), default=None)

    memberships: Mapped[list[TeamMembership]] = relationship(back_populates="user")


class TeamMembership(Base):
    __tablename__ = "team_memberships"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("hr_users.id", ondelete="CASCADE"), index=True)

    team: Mapped[Team] = relationship(back_populates="memberships")
    user: Mapped[HRUser] = relationship(back_populates="memberships")
