"""Past 5,000 machines nothing is cut: checks and pictures consider every machine.

(Both once stopped at the first 5,000 machines without saying so: the cross-namespace
check, and the problems the composition view marks on machines.)
"""

import pytest

from tests.topology.conftest import aws, findings, load, machine, machine_provider, stack
from vitiweb.fleet import Fleet
from vitiweb.integrity import current_findings
from vitiweb.topology.builders import Options, build_picture

MACHINES = 5_001


@pytest.fixture
def large_fleet(cluster):
    """5,001 machines in production on a provider in namespace shared, each asking an instance type it lacks."""
    load(
        cluster,
        stack("s", machineProviders=[{"name": "ec2", "namespace": "shared"}]),
        machine_provider("ec2", namespace="shared", aws=aws()),
        *(
            machine(f"m{i:04}", machineProvider={"name": "ec2", "namespace": "shared"}, instanceType="x9.huge")
            for i in range(MACHINES)
        ),
    )
    return cluster


def test_every_machine_counts_in_checks_and_in_the_composition(large_fleet):
    noted = {f.subject.address for f in findings("cross-namespace-reference") if f.subject.kind == "Machine"}
    assert len(noted) == MACHINES

    fleet = Fleet()
    stack_id = next(obj.id for obj in fleet.stacks.values() if obj.name == "s")

    def composition(**options):
        return build_picture("composition", fleet, current_findings(), Options(stack=stack_id, **options)).graph

    [group] = [node for node in composition().nodes.values() if node.kind == "Machine"]
    assert group.count == MACHINES  # one counted node: the machines share parent, state and severity
    machines = [node for node in composition(expanded={group.expand}).nodes.values() if node.kind == "Machine"]
    assert len(machines) == MACHINES
    # Each machine's hover names the instance type its provider does not offer.
    assert [node.label for node in machines if not any("x9.huge" in line for line in node.hover)] == []
