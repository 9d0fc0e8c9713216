"""The registry-to-unit mapping now lives in :mod:`policyeval.design.roles`.

Kept so that older imports of this private module keep working.
"""

from policyeval.design.roles import (  # noqa: F401
    ENCLAVE_COLUMNS,
    ROLE_COLUMNS,
    ROLES,
    TERM_COLUMNS,
    assign_roles,
    check_enclaves,
    revenue_terms,
)
