"""Who is calling, and what that allows. The role comes from this service's
mirror of the platform's employees, never from the token."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    kind: str  # "employee" | "company_key" | "platform_key" | "anonymous" (auth disabled)
    label: str  # recorded as createdBy / updatedBy: "employee:10", "apikey:3"
    employee_id: int | None = None
    company_id: int | None = None
    is_admin: bool = False
    is_team_leader: bool = False
    # A key's own requests per minute (`apikey create --rate-limit`); None: the default for its kind.
    rate_limit_per_minute: int | None = None

    @property
    def is_platform(self) -> bool:
        """Platform keys (and everyone when auth is disabled) see every company."""
        return self.kind in ("platform_key", "anonymous")

    def sees(self, company_id: int | None) -> bool:
        """Whether the company's data exists for this caller at all (else: 404)."""
        return self.is_platform or (company_id is not None and company_id == self.company_id)

    @property
    def acts_for_others(self) -> bool:
        """May write other employees' logs of its company: admins and keys."""
        return self.is_platform or self.kind == "company_key" or self.is_admin

    @property
    def reads_company_logs(self) -> bool:
        return self.acts_for_others or self.is_team_leader

    @property
    def writes_reference_data(self) -> bool:
        return self.acts_for_others

    def is_self(self, employee_id: int) -> bool:
        return self.kind == "employee" and self.employee_id == employee_id


ANONYMOUS = Principal(kind="anonymous", label="anonymous")

# For the service's own jobs (the demo loader): acts as the platform.
SYSTEM = Principal(kind="platform_key", label="system")
