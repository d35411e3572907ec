"""Settings every test shares."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """The tests' matrices are tiny: one intra-op thread is several times faster than two
    fighting over a 2-core machine's shared cores, and no result depends on the count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
