# pragma version 0.4.3
# pragma evm-version cancun
# pragma optimize codesize
"""
@title TaskMarket
@notice One market for many deep-learning tasks (arXiv 1807.02515, with the
        extensions of baasim's DESIGN.md section 2 as per-task switches).

        Flow of one task:
          1. create_task     initiator escrows the reward and fixes the rules.
          2. submit_model    computing contributors publish one model CID each
                             before the submission deadline.
             register_verifier  verifiers offer themselves, staking `verifier_stake`,
                             before the submission deadline.
          3. draw_committee  anyone, once the submission deadline has passed:
                             k members drawn from the registrants with on-chain
                             randomness; the others get their stake back.
          4. report          (commit-reveal off) a member's fused accuracy and one
                             contribution score per submitted model, before the
                             reveal deadline; or
             commit/reveal   (commit-reveal on) a hash before the commit deadline,
                             then the values and salt before the reveal deadline.
          5. finalize        anyone, after the reveal deadline: aggregate, decide,
                             credit every payment; withdraw() pays out (pull payment).

        Units: accuracies and contribution scores are reported in parts per
        million (ppm, 1e6 = 100 %); MAFR, shares, slash and trim fractions are
        basis points (1e4 = 100 %).

        Randomness caveat (grinding): with future_seed off the committee seed is
        keccak256 of block.prevrandao and the task id in the block that includes
        the first draw_committee call after the submission deadline. The block
        proposer influences prevrandao, and the caller picks the block in which
        to call, so a party that controls both can retry until the draw suits it
        (finding 3 of issue 14). future_seed closes the caller's choice; a
        production system would still use a VRF against a grinding proposer.

        Bounds (finding 5 of issue 14): every value an initiator sets is bounded
        at create_task so that no settlement arithmetic can overflow and lock the
        escrow: verifier_stake <= MAX_AMOUNT (2**128 wei; the reward, msg.value,
        is bounded by the ether supply, far below 2**128), every deadline within
        MAX_HORIZON (365 days) of creation, report_window_s and sealed_window_s
        at most MAX_HORIZON, tolerance_ppm <= 1e6 (it is converted to int256);
        and no slash is computed for an empty committee.

        Defences (issue 14), per-task switches in TaskParams; each defaults to off
        and off reproduces the paper's behaviour exactly (same outcomes, same
        payments):
          report_window_s (0 = off)  guaranteed reporting time. The draw may happen
                             until the old report deadline (commit_deadline with
                             commit-reveal, else reveal_deadline); once drawn, the
                             members report until drawn_at + report_window_s, or
                             commit until drawn_at + w and reveal until
                             drawn_at + 2w. Closes the last-second draw (finding 1).
          future_seed (False)  the first draw_committee call only records
                             seed_block = block.number + 1 (SeedRequested); a call
                             in a later block draws with blockhash(seed_block), a
                             value nobody knew when the block was fixed. A call
                             more than 256 blocks after seed_block (its hash out of
                             BLOCKHASH's reach) records a new one instead (SeedRequested),
                             never before: a seed's draw can only be replaced by
                             letting it expire unused for 256 blocks, while anyone may
                             draw it. Closes caller grinding (finding 3).
          no_cancel_after_submission (False)  cancel reverts once a model was
                             submitted or committed. Closes peek-and-cancel (2).
          sealed_window_s (0 = off)  confidential submissions: contributors
                             commit_model(keccak256(abi_encode(task_id, sender,
                             keccak256(cid), salt))) before the submission deadline and
                             reveal_model the CID within sealed_window_s after it;
                             the draw opens when that window closes. CIDs are not
                             public while cancel is possible. commit_model shares
                             submit_model's checks and revert reasons. Closes
                             peeking (finding 2).
          exclusive_roles (False)  a contributor of a task may not register as its
                             verifier nor a registrant submit (the initiator does
                             neither, always). Closes the self-verifier (4).
          min_stake (0 = off)  verifier_stake must be at least min_stake, so that
                             flooding the registrant pool locks stake (finding 4).
          burn_orphan_slashes (False)  slashed stakes go to the agreeing members;
                             when none agrees they are burned (sent to the zero
                             address, StakeBurned) instead of refunded to the
                             initiator. Rounding dust (< committee size wei) still
                             returns to the initiator. Closes the profit of the
                             last-second draw (finding 1).
          unrevealed_slash_bps (0 = off)  a member without a revealed report
                             (absent: in commit-reveal, also one that committed and
                             withheld) loses this share of its stake instead of
                             slash_bps (reason SLASH_ABSENT); above slash_bps, revealing
                             a dissent costs strictly less than hiding it. Closes the
                             selective revealer (finding 6). Bounded by 10000 like
                             slash_bps.
          undrawn_pays_contributors (False)  a task finalized without a committee
                             draw (nobody called draw_committee in its window) that has
                             submissions pays its whole escrow to their contributors in
                             equal shares (ContributorPaid, score 1; the dust returns to
                             the initiator) instead of refunding it: an initiator that
                             reads the public models and never draws pays for them
                             (free_access). accepted stays False (nobody verified). A
                             claim-settled task (up to 1,024 submissions, too many to
                             pay in finalize) locks the escrow as its claim pool
                             instead (n_pos = pos_total = n_submissions) and each
                             submission's claim_pay credits escrow // n_submissions
                             (S = 1). Not closed: an initiator that draws and
                             withholds the verification data (its members are absent).

        Access after payment (all tasks) is not a msg.sender check in a view (an eth_call sets
        any sender; finding 2): the contract has no CID-returning access view. The
        paid models are accepted_mask (get_task) over get_submissions, public data
        once the task is finalized; the initiator records its access by a
        transaction, claim_access (AccessClaimed), which only it can send and only
        after payment. The bindings' accepted_cids applies the paper's rule (the
        initiator, after payment; anyone, for a sealed task) off chain. Anything on
        chain is public: true confidentiality needs the models encrypted off chain
        (e.g. to the initiator's key).

        Claim settlement (issue 15; aggregation = AGG_CLAIM = 3): the paper's
        majority, tallied as reports arrive, so that no transaction grows with the
        number of contributors beyond its own. A report at or above the MAFR adds
        its scores to per-submission sums (8 per storage word, 32-bit lanes; |sum|
        <= 32 * 1e6 < 2**31); finalize decides (2 * n_above > n_revealed), judges
        the committee by side and pays the verifiers in O(committee), and keeps the
        contributor pool locked (Tally.pool); claim_pay(task, i), sent by anyone,
        credits submission i's contributor pool * S_i // sum of positive S (S_i its
        sum over the winning reports; the paper's rule without truncating each
        mean), and the last claim returns the rounding dust to the initiator. Needs
        tolerance_ppm 0. A claim task's reports go through report_claim (a report,
        or with commit-reveal the reveal: same commitment, same checks and
        messages under its name); report and reveal refuse it, and report_claim
        refuses a paper task. Reports are not stored (get_report returns no scores;
        the ReportRevealed event carries them); accepted_mask stays 0 (score_sum > 0
        marks the paid submissions).

        Capacity: MAX_SUBMISSIONS (1,024) bounds a claim task (submissions, the
        report_claim path); a paper task takes PAPER_SUBMISSIONS (64): its finalize
        is O(submissions x committee) (BENCHMARKS.md, "Gas per task"). Everything on
        the paper's path (report, reveal, stored reports, finalize) is typed 64 wide:
        memory expansion is charged for the space a variable sits behind, so a
        1,024-wide frame anywhere in a call's graph costs a small task ~70 k gas.

        Contract size: the runtime stays under EIP-170's 24,576 bytes
        (tests/contracts/test_create.py); hence the shared _check for the
        "<call>: <reason>" messages, the call's name pushed once per function
        (cn, also given to _require_open), one report_claim for both claim
        report kinds, no on-chain access view, and no getters for has_submitted,
        is_registered, has_revealed, model_commitments and commitments (none was
        read by anything; get_submissions, get_registrants, get_report and the
        ModelCommitted / ReportCommitted events give the same facts). Runtime
        24,540 bytes (36 under the limit) with both issue 14's defences and issue
        15's claim settlement; the commitments getter went when they were merged
        (61 bytes), and the two places that open a claim pool share _open_claims.
        Already compiled with `optimize codesize`; experimental-codegen (venom)
        does not compile it.
"""

# Capacity (issue 15; BENCHMARKS.md "Gas per task"): MAX_SUBMISSIONS bounds the types
# and a claim-settled task; a paper-settled task takes at most PAPER_SUBMISSIONS, so that
# its finalize (O(submissions x committee)) fits a 30 M gas block at a 32-member committee.
MAX_SUBMISSIONS: constant(uint256) = 1024
PAPER_SUBMISSIONS: constant(uint256) = 64
MAX_REGISTRANTS: constant(uint256) = 256
MAX_COMMITTEE: constant(uint256) = 32
MAX_CID: constant(uint256) = 100
BPS: constant(uint256) = 10_000
PPM: constant(uint256) = 1_000_000
MAX_AMOUNT: constant(uint256) = 2**128
MAX_HORIZON: constant(uint256) = 365 * 86_400

AGG_MAJORITY: constant(uint8) = 0
AGG_MEDIAN: constant(uint8) = 1
AGG_TRIMMED_MEAN: constant(uint8) = 2
# the paper's majority, tallied as reports arrive; each contributor claims its pay (claim_pay)
AGG_CLAIM: constant(uint8) = 3

# claim settlement: score sums packed 8 to a word, 32-bit two's complement lanes
LANES: constant(uint256) = 8
LANE: constant(uint256) = 2**32 - 1

SLASH_ABSENT: constant(uint8) = 0
SLASH_DISAGREE: constant(uint8) = 1


struct TaskParams:
    mafr_bps: uint256
    committee_size: uint256
    verifier_share_bps: uint256
    submission_deadline: uint256
    commit_deadline: uint256
    reveal_deadline: uint256
    verifier_stake: uint256
    slash_bps: uint256
    commit_reveal: bool
    aggregation: uint8
    trim_bps: uint256
    # A revealed report agrees with the outcome when it is on the winning side
    # and, if tolerance_ppm > 0, each of its values lies within tolerance_ppm of
    # the aggregate. 0 keeps the paper's rule (side only).
    tolerance_ppm: uint256
    # issue 14 defences (see the header); each zero/False = off = the paper's rules
    report_window_s: uint256
    future_seed: bool
    no_cancel_after_submission: bool
    sealed_window_s: uint256
    exclusive_roles: bool
    min_stake: uint256
    burn_orphan_slashes: bool
    unrevealed_slash_bps: uint256
    undrawn_pays_contributors: bool


struct Task:
    initiator: address
    escrow: uint256
    params: TaskParams
    n_submissions: uint256
    n_registered: uint256
    drawn: bool
    n_revealed: uint256
    finalized: bool
    cancelled: bool
    accepted: bool
    aggregate_accuracy_ppm: uint256
    # bit i set: submission i had a positive aggregate score and was paid
    accepted_mask: uint256
    drawn_at: uint256
    seed_block: uint256
    # submissions plus sealed commitments: what cancel and capacity look at
    n_entrants: uint256


struct Submission:
    contributor: address
    cid: String[MAX_CID]


struct Tally:
    # claim settlement: what the reports added up to, kept as they arrive
    n_above: uint256
    acc_above: uint256
    acc_all: uint256
    # over the reports at or above the MAFR: sum of the positive score sums, and how many
    pos_total: uint256
    n_pos: uint256
    # set by finalize: the contributor pool the claims share; paid out so far
    pool: uint256
    paid: uint256
    n_paid: uint256


event TaskCreated:
    task_id: indexed(uint256)
    initiator: indexed(address)
    reward: uint256
    spec_cid: String[MAX_CID]

event ModelSubmitted:
    task_id: indexed(uint256)
    contributor: indexed(address)
    index: uint256
    cid: String[MAX_CID]

event DuplicateSubmission:
    task_id: indexed(uint256)
    contributor: indexed(address)
    index: uint256
    first_index: uint256

event VerifierRegistered:
    task_id: indexed(uint256)
    verifier: indexed(address)
    stake: uint256

event CommitteeDrawn:
    task_id: indexed(uint256)
    members: DynArray[address, MAX_COMMITTEE]
    seed: bytes32

event ReportCommitted:
    task_id: indexed(uint256)
    verifier: indexed(address)
    commitment: bytes32

event ReportRevealed:
    task_id: indexed(uint256)
    verifier: indexed(address)
    accuracy_ppm: uint256
    scores_ppm: DynArray[int256, MAX_SUBMISSIONS]

event TaskFinalized:
    task_id: indexed(uint256)
    accepted: bool
    aggregate_accuracy_ppm: uint256
    n_revealed: uint256
    n_agreeing: uint256

event ContributorPaid:
    task_id: indexed(uint256)
    contributor: indexed(address)
    index: uint256
    amount: uint256
    score_ppm: int256

event VerifierPaid:
    task_id: indexed(uint256)
    verifier: indexed(address)
    amount: uint256

event VerifierSlashed:
    task_id: indexed(uint256)
    verifier: indexed(address)
    amount: uint256
    reason: uint8

event StakeReturned:
    task_id: indexed(uint256)
    verifier: indexed(address)
    amount: uint256

event Refunded:
    task_id: indexed(uint256)
    initiator: indexed(address)
    amount: uint256

event TaskCancelled:
    task_id: indexed(uint256)

event Withdrawn:
    account: indexed(address)
    amount: uint256

event SeedRequested:
    task_id: indexed(uint256)
    seed_block: uint256

event ModelCommitted:
    task_id: indexed(uint256)
    contributor: indexed(address)
    commitment: bytes32

event StakeBurned:
    task_id: indexed(uint256)
    amount: uint256

event AccessClaimed:
    task_id: indexed(uint256)
    initiator: indexed(address)


tasks: HashMap[uint256, Task]
spec_cid: public(HashMap[uint256, String[MAX_CID]])
next_task_id: public(uint256)

submissions: HashMap[uint256, DynArray[Submission, MAX_SUBMISSIONS]]
has_submitted: HashMap[uint256, HashMap[address, bool]]
first_with_cid: HashMap[uint256, HashMap[bytes32, uint256]]  # index + 1

registrants: HashMap[uint256, DynArray[address, MAX_REGISTRANTS]]
is_registered: HashMap[uint256, HashMap[address, bool]]

committee: HashMap[uint256, DynArray[address, MAX_COMMITTEE]]
is_member: public(HashMap[uint256, HashMap[address, bool]])

commitments: HashMap[uint256, HashMap[address, bytes32]]
model_commitments: HashMap[uint256, HashMap[address, bytes32]]
has_revealed: HashMap[uint256, HashMap[address, bool]]
report_accuracy: HashMap[uint256, HashMap[address, uint256]]
report_scores: HashMap[uint256, HashMap[address, DynArray[int256, PAPER_SUBMISSIONS]]]

# claim settlement (aggregation AGG_CLAIM): the tally, the packed score sums of the reports at
# or above the MAFR (word m // LANES of task t), and the submissions already paid
tally: HashMap[uint256, Tally]
score_sums: HashMap[uint256, HashMap[uint256, uint256]]
claimed: public(HashMap[uint256, HashMap[uint256, bool]])

# Pull payments: wei owed to each account, and the sums kept for invariants.
credit: public(HashMap[address, uint256])
total_credit: public(uint256)
total_locked: public(uint256)
total_burned: public(uint256)


@deploy
def __init__():
    self.next_task_id = 1


# ---------------------------------------------------------------- task life


@external
@payable
def create_task(spec_cid: String[MAX_CID], p: TaskParams) -> uint256:
    cn: String[32] = "create_task"
    self._check(msg.value > 0, cn, "reward must be positive")
    self._check(p.mafr_bps > 0 and p.mafr_bps <= BPS, cn, "mafr_bps must be in (0, 10000]")
    self._check(p.committee_size > 0 and p.committee_size <= MAX_COMMITTEE, cn, "committee_size must be in [1, 32]")
    self._check(p.verifier_share_bps <= BPS, cn, "verifier_share_bps above 10000")
    self._check(max(p.slash_bps, p.unrevealed_slash_bps) <= BPS, cn, "slash_bps above 10000")
    self._check(p.aggregation <= AGG_CLAIM, cn, "unknown aggregation")
    self._check(p.aggregation != AGG_CLAIM or p.tolerance_ppm == 0, cn, "claim settlement needs tolerance_ppm 0")
    self._check(p.trim_bps < BPS // 2, cn, "trim_bps must be below 5000")
    self._check(p.submission_deadline > block.timestamp, cn, "submission deadline not in the future")
    self._check(p.commit_deadline > p.submission_deadline, cn, "commit deadline must follow submission deadline")
    self._check(p.reveal_deadline >= p.commit_deadline, cn, "reveal deadline before commit deadline")
    self._check(not p.commit_reveal or p.reveal_deadline > p.commit_deadline, cn, "commit-reveal needs reveal after commit deadline")
    self._check(p.reveal_deadline <= block.timestamp + MAX_HORIZON and p.report_window_s <= MAX_HORIZON and p.sealed_window_s <= MAX_HORIZON, cn, "beyond the 365-day horizon")
    self._check(self._report_deadline(p) > p.submission_deadline + p.sealed_window_s, cn, "draw window empty")
    self._check(p.verifier_stake <= MAX_AMOUNT and p.verifier_stake >= p.min_stake, cn, "verifier_stake outside [min_stake, 2**128]")
    self._check(p.tolerance_ppm <= PPM, cn, "tolerance_ppm above 1e6")
    self._check(len(spec_cid) > 0, cn, "empty spec cid")

    tid: uint256 = self.next_task_id
    self.next_task_id = tid + 1
    # a fresh id: every other field is still zero
    self.tasks[tid].initiator = msg.sender
    self.tasks[tid].escrow = msg.value
    self.tasks[tid].params = p
    self.spec_cid[tid] = spec_cid
    self.total_locked += msg.value
    log TaskCreated(task_id=tid, initiator=msg.sender, reward=msg.value, spec_cid=spec_cid)
    return tid


@external
def submit_model(task_id: uint256, cid: String[MAX_CID]):
    cn: String[32] = "submit_model"
    self._require_open(task_id, cn)
    self._check(self.tasks[task_id].params.sealed_window_s == 0, cn, "this task takes sealed submissions")
    self._enter(task_id)
    self._check(len(cid) > 0, cn, "empty cid")
    self._add_submission(task_id, cid)


@external
def commit_model(task_id: uint256, commitment: bytes32):
    """@notice Sealed submit_model (same checks, same revert reasons): commit
    keccak256(abi_encode(task_id, msg.sender, keccak256(cid), salt))."""
    cn: String[32] = "commit_model"
    self._require_open(task_id, cn)
    self._check(self.tasks[task_id].params.sealed_window_s > 0, cn, "this task takes plain submissions")
    self._enter(task_id)
    self._check(commitment != empty(bytes32), cn, "empty commitment")
    self.model_commitments[task_id][msg.sender] = commitment
    log ModelCommitted(task_id=task_id, contributor=msg.sender, commitment=commitment)


@external
def reveal_model(task_id: uint256, cid: String[MAX_CID], salt: bytes32):
    """@notice Publish a committed CID, in the sealed window after the submission deadline."""
    cn: String[32] = "reveal_model"
    self._require_open(task_id, cn)
    w: uint256 = self.tasks[task_id].params.sealed_window_s
    sd: uint256 = self.tasks[task_id].params.submission_deadline
    self._check(w > 0, cn, "this task takes plain submissions")
    self._check(block.timestamp >= sd, cn, "submissions still open")
    self._check(block.timestamp < sd + w, cn, "reveal window closed")
    c: bytes32 = self.model_commitments[task_id][msg.sender]
    self._check(c != empty(bytes32), cn, "no commitment")
    self._check(c == keccak256(abi_encode(task_id, msg.sender, keccak256(cid), salt)), cn, "does not match commitment")
    self._check(len(cid) > 0, cn, "empty cid")
    self.model_commitments[task_id][msg.sender] = empty(bytes32)
    self._add_submission(task_id, cid)


@internal
def _enter(task_id: uint256):
    """The contributor checks shared by submit_model and commit_model; counts the entrant."""
    cn: String[32] = "submit_model"
    self._check(block.timestamp < self.tasks[task_id].params.submission_deadline, cn, "submission deadline passed")
    self._check(msg.sender != self.tasks[task_id].initiator, cn, "initiator cannot contribute to its own task")
    self._check(not self.has_submitted[task_id][msg.sender], cn, "already submitted")
    self._check(not (self.tasks[task_id].params.exclusive_roles and self.is_registered[task_id][msg.sender]), cn, "verifier cannot contribute")
    n: uint256 = self.tasks[task_id].n_entrants
    cap: uint256 = PAPER_SUBMISSIONS
    if self.tasks[task_id].params.aggregation == AGG_CLAIM:
        cap = MAX_SUBMISSIONS
    self._check(n < cap, cn, "task is full")
    self.tasks[task_id].n_entrants = n + 1
    self.has_submitted[task_id][msg.sender] = True


@internal
def _add_submission(task_id: uint256, cid: String[MAX_CID]):
    index: uint256 = self.tasks[task_id].n_submissions
    self.submissions[task_id].append(Submission(contributor=msg.sender, cid=cid))
    self.tasks[task_id].n_submissions = index + 1
    log ModelSubmitted(task_id=task_id, contributor=msg.sender, index=index, cid=cid)

    key: bytes32 = keccak256(cid)
    first: uint256 = self.first_with_cid[task_id][key]
    if first == 0:
        self.first_with_cid[task_id][key] = index + 1
    else:
        log DuplicateSubmission(task_id=task_id, contributor=msg.sender, index=index, first_index=first - 1)


@external
@payable
def register_verifier(task_id: uint256):
    cn: String[32] = "register_verifier"
    self._require_open(task_id, cn)
    self._check(block.timestamp < self.tasks[task_id].params.submission_deadline, cn, "registration closed")
    self._check(msg.sender != self.tasks[task_id].initiator, cn, "initiator cannot verify its own task")
    self._check(not self.is_registered[task_id][msg.sender], cn, "already registered")
    self._check(not (self.tasks[task_id].params.exclusive_roles and self.has_submitted[task_id][msg.sender]), cn, "contributor cannot verify")
    self._check(msg.value == self.tasks[task_id].params.verifier_stake, cn, "value must equal the task's verifier stake")
    n: uint256 = self.tasks[task_id].n_registered
    self._check(n < MAX_REGISTRANTS, cn, "registrant pool is full")

    self.registrants[task_id].append(msg.sender)
    self.is_registered[task_id][msg.sender] = True
    self.tasks[task_id].n_registered = n + 1
    self.total_locked += msg.value
    log VerifierRegistered(task_id=task_id, verifier=msg.sender, stake=msg.value)


@external
def cancel(task_id: uint256):
    cn: String[32] = "cancel"
    self._require_open(task_id, cn)
    initiator: address = self.tasks[task_id].initiator
    self._check(msg.sender == initiator, cn, "only the initiator can cancel")
    self._check(block.timestamp < self.tasks[task_id].params.submission_deadline, cn, "submission deadline passed")
    self._check(not (self.tasks[task_id].params.no_cancel_after_submission and self.tasks[task_id].n_entrants > 0), cn, "a model was submitted")

    self.tasks[task_id].cancelled = True
    escrow: uint256 = self.tasks[task_id].escrow
    stake: uint256 = self.tasks[task_id].params.verifier_stake
    self._settle_refund(task_id, initiator, escrow)
    for v: address in self.registrants[task_id]:
        self._return_stake(task_id, v, stake)
    self.total_locked -= escrow + stake * self.tasks[task_id].n_registered
    log TaskCancelled(task_id=task_id)


@external
def draw_committee(task_id: uint256):
    cn: String[32] = "draw_committee"
    self._require_open(task_id, cn)
    p: TaskParams = self.tasks[task_id].params
    self._check(block.timestamp >= p.submission_deadline + p.sealed_window_s, cn, "submissions still open")
    self._check(block.timestamp < self._report_deadline(p), cn, "reporting window closed")
    self._check(not self.tasks[task_id].drawn, cn, "already drawn")
    seed: bytes32 = keccak256(concat(block.prevrandao, convert(task_id, bytes32)))
    if p.future_seed:
        sb: uint256 = self.tasks[task_id].seed_block
        if sb == 0 or block.number > sb + 256:
            # fix the seed's block first: its hash is unknown to every caller now; again
            # once that hash is out of reach (BLOCKHASH sees the last 256 blocks only)
            self.tasks[task_id].seed_block = block.number + 1
            log SeedRequested(task_id=task_id, seed_block=block.number + 1)
            return
        self._check(block.number > sb, cn, "seed block not sealed yet")
        seed = keccak256(concat(blockhash(sb), convert(task_id, bytes32)))

    pool: DynArray[address, MAX_REGISTRANTS] = self.registrants[task_id]
    n: uint256 = len(pool)
    k: uint256 = min(p.committee_size, n)
    r: bytes32 = seed
    # partial Fisher-Yates: the first k slots become the committee
    for i: uint256 in range(MAX_COMMITTEE):
        if i >= k:
            break
        j: uint256 = i + convert(r, uint256) % (n - i)
        tmp: address = pool[i]
        pool[i] = pool[j]
        pool[j] = tmp
        r = keccak256(r)

    members: DynArray[address, MAX_COMMITTEE] = []
    for i: uint256 in range(MAX_REGISTRANTS):
        if i >= n:
            break
        if i < k:
            members.append(pool[i])
            self.is_member[task_id][pool[i]] = True
        else:
            # not drawn: the stake goes back at once
            self._return_stake(task_id, pool[i], p.verifier_stake)
    self.total_locked -= p.verifier_stake * (n - k)
    self.committee[task_id] = members
    self.tasks[task_id].drawn = True
    self.tasks[task_id].drawn_at = block.timestamp
    log CommitteeDrawn(task_id=task_id, members=members, seed=seed)


# ---------------------------------------------------------------- reports


@external
def report(task_id: uint256, accuracy_ppm: uint256, scores_ppm: DynArray[int256, PAPER_SUBMISSIONS]):
    """@notice A paper-settled task's report (a claim-settled task's: report_claim)."""
    self._open_report(task_id, "report", False)
    self._record_report(task_id, accuracy_ppm, scores_ppm, "report")


@external
def commit(task_id: uint256, commitment: bytes32):
    cn: String[32] = "commit"
    self._require_open(task_id, cn)
    self._check(self.tasks[task_id].params.commit_reveal, cn, "this task does not use commit-reveal")
    self._check(self.tasks[task_id].drawn, cn, "committee not drawn")
    self._check(block.timestamp < self._deadlines(task_id)[0], cn, "commit deadline passed")
    self._check(self.is_member[task_id][msg.sender], cn, "not a committee member")
    self._check(self.commitments[task_id][msg.sender] == empty(bytes32), cn, "already committed")
    self._check(commitment != empty(bytes32), cn, "empty commitment")
    self.commitments[task_id][msg.sender] = commitment
    log ReportCommitted(task_id=task_id, verifier=msg.sender, commitment=commitment)


@external
def reveal(task_id: uint256, accuracy_ppm: uint256, scores_ppm: DynArray[int256, PAPER_SUBMISSIONS], salt: bytes32):
    """@notice Reveal a committed report of a paper-settled task (claim-settled: report_claim);
    the commitment is keccak256(abi_encode(task_id, msg.sender, accuracy_ppm, scores_ppm, salt))."""
    self._open_reveal(task_id, keccak256(abi_encode(task_id, msg.sender, accuracy_ppm, scores_ppm, salt)), "reveal", False)
    self._record_report(task_id, accuracy_ppm, scores_ppm, "reveal")


@external
def report_claim(task_id: uint256, accuracy_ppm: uint256, scores_ppm: DynArray[int256, MAX_SUBMISSIONS], salt: bytes32):
    """@notice A claim-settled task's report, or with commit-reveal its reveal (`salt` opens
    the commitment, the same as reveal's; without commit-reveal it is ignored). Its own entry
    point, so that the paper's report and reveal keep 64-wide memory frames (a 1,024-wide one
    cost a small task's reveal ~70 k gas of memory expansion)."""
    if self.tasks[task_id].params.commit_reveal:
        self._open_reveal(task_id, keccak256(abi_encode(task_id, msg.sender, accuracy_ppm, scores_ppm, salt)), "report_claim", True)
    else:
        self._open_report(task_id, "report_claim", True)
    # not stored: added to the tally
    self._admit(task_id, accuracy_ppm, len(scores_ppm), "report_claim")
    for s: int256 in scores_ppm:
        self._check(s >= -convert(PPM, int256) and s <= convert(PPM, int256), "report_claim", "score outside [-1e6, 1e6] ppm")
    self._tally(task_id, accuracy_ppm, scores_ppm)
    log ReportRevealed(task_id=task_id, verifier=msg.sender, accuracy_ppm=accuracy_ppm, scores_ppm=scores_ppm)


# ---------------------------------------------------------------- outcome


@external
def finalize(task_id: uint256):
    self._require_open(task_id, "finalize")
    t: Task = self.tasks[task_id]
    self._check(block.timestamp >= self._deadlines(task_id)[1], "finalize", "reveal deadline not reached")

    self.tasks[task_id].finalized = True
    members: DynArray[address, MAX_COMMITTEE] = self.committee[task_id]
    if not t.drawn:
        # nobody drew a committee in time: no registrant is at fault
        for v: address in self.registrants[task_id]:
            self._return_stake(task_id, v, t.params.verifier_stake)
        self.total_locked -= t.params.verifier_stake * t.n_registered + t.escrow
        back: uint256 = t.escrow
        if t.params.undrawn_pays_contributors and t.n_submissions > 0:
            # the models were public and nobody drew: the reward goes to their
            # contributors in equal shares, not back to the initiator
            if t.params.aggregation == AGG_CLAIM:
                # up to 1,024 of them: each claims one share (claim_pay), as after a verdict
                self.tally[task_id].pos_total = t.n_submissions
                self.tally[task_id].n_pos = t.n_submissions
                self._open_claims(task_id, back)
                back = 0
            else:
                ones: DynArray[int256, PAPER_SUBMISSIONS] = []
                for m: uint256 in range(PAPER_SUBMISSIONS):
                    if m >= t.n_submissions:
                        break
                    ones.append(1)
                back = self._pay_contributors(task_id, back, ones, t.n_submissions)
        self._settle_refund(task_id, t.initiator, back)
        log TaskFinalized(task_id=task_id, accepted=False, aggregate_accuracy_ppm=0, n_revealed=0, n_agreeing=0)
        return

    n_sub: uint256 = t.n_submissions
    accs: DynArray[uint256, MAX_COMMITTEE] = []
    reps: DynArray[address, MAX_COMMITTEE] = []
    for v: address in members:
        if self.has_revealed[task_id][v]:
            accs.append(self.report_accuracy[task_id][v])
            reps.append(v)

    accepted: bool = False
    agg_acc: uint256 = 0
    agg_scores: DynArray[int256, PAPER_SUBMISSIONS] = []
    claim: bool = t.params.aggregation == AGG_CLAIM
    if claim and len(reps) > 0:
        # majority over the tally, O(1): the winning side's mean accuracy
        ta: Tally = self.tally[task_id]
        accepted = 2 * ta.n_above > len(reps)
        if accepted:
            agg_acc = ta.acc_above // ta.n_above
        else:
            agg_acc = (ta.acc_all - ta.acc_above) // (len(reps) - ta.n_above)
    elif len(reps) > 0:
        accepted, agg_acc, agg_scores = self._aggregate(task_id, t.params, reps, accs, n_sub)
    self.tasks[task_id].accepted = accepted
    self.tasks[task_id].aggregate_accuracy_ppm = agg_acc

    vpool: uint256 = t.escrow * t.params.verifier_share_bps // BPS
    cpool: uint256 = t.escrow - vpool
    agreeing: DynArray[address, MAX_COMMITTEE] = []
    slashed: uint256 = 0
    agreeing, slashed = self._judge_committee(task_id, t.params, members, accepted, agg_acc, agg_scores)
    self.total_locked -= t.params.verifier_stake * len(members) + t.escrow

    # verifier pool plus slashed stakes, shared by the agreeing members
    refund: uint256 = vpool + slashed
    n_agree: uint256 = len(agreeing)
    if n_agree > 0:
        share: uint256 = refund // n_agree
        for v: address in agreeing:
            self._credit(v, share)
            log VerifierPaid(task_id=task_id, verifier=v, amount=share)
        refund -= share * n_agree
    elif t.params.burn_orphan_slashes and slashed > 0:
        # nobody to receive the slashed stakes, and never the initiator: burn them
        refund -= slashed
        self.total_burned += slashed
        log StakeBurned(task_id=task_id, amount=slashed)
        send(empty(address), slashed)

    if accepted and claim:
        if self.tally[task_id].pos_total > 0:
            # stays locked until the claims (claim_pay) take it
            self._open_claims(task_id, cpool)
        else:
            refund += cpool
    elif accepted:
        refund += self._pay_contributors(task_id, cpool, agg_scores, n_sub)
    else:
        refund += cpool
    self._settle_refund(task_id, t.initiator, refund)
    log TaskFinalized(task_id=task_id, accepted=accepted, aggregate_accuracy_ppm=agg_acc, n_revealed=len(reps), n_agreeing=n_agree)


@external
def claim_pay(task_id: uint256, index: uint256):
    """@notice Credit the contributor of submission `index` of a finalized, accepted
    claim-settled task its pay: pool * S // (sum of positive S), S its score sum over the
    reports at or above the MAFR (an undrawn task's, with undrawn_pays_contributors: S = 1
    for every submission). Anyone may call; the last claim returns the rounding dust to the
    initiator."""
    pool: uint256 = self.tally[task_id].pool
    s: int256 = 1
    n: int256 = 1
    if self.tasks[task_id].drawn:
        s = self._score_sum(task_id, index)
        n = convert(self.tally[task_id].n_above, int256)
    self._check(pool > 0 and s > 0 and index < self.tasks[task_id].n_submissions and not self.claimed[task_id][index], "claim_pay", "nothing owed to this submission")
    self.claimed[task_id][index] = True
    amount: uint256 = pool * convert(s, uint256) // self.tally[task_id].pos_total
    who: address = self.submissions[task_id][index].contributor
    self._credit(who, amount)
    log ContributorPaid(task_id=task_id, contributor=who, index=index, amount=amount, score_ppm=s // n)
    paid: uint256 = self.tally[task_id].paid + amount
    n_paid: uint256 = self.tally[task_id].n_paid + 1
    self.tally[task_id].paid = paid
    self.tally[task_id].n_paid = n_paid
    self.total_locked -= amount
    if n_paid == self.tally[task_id].n_pos:
        # the last claim: the rounding dust goes back, nothing stays locked
        self._settle_refund(task_id, self.tasks[task_id].initiator, pool - paid)
        self.total_locked -= pool - paid
        self.tally[task_id].pool = 0


@external
@nonreentrant
def withdraw():
    amount: uint256 = self.credit[msg.sender]
    self._check(amount > 0, "withdraw", "nothing to withdraw")
    self.credit[msg.sender] = 0
    self.total_credit -= amount
    log Withdrawn(account=msg.sender, amount=amount)
    raw_call(msg.sender, b"", value=amount)


@external
def claim_access(task_id: uint256):
    """@notice The initiator records, by a transaction (AccessClaimed), that it takes the
    paid models: an on-chain record of access after payment, which a view cannot give."""
    cn: String[32] = "claim_access"
    initiator: address = self.tasks[task_id].initiator
    self._check(initiator != empty(address), cn, "unknown task")
    self._check(msg.sender == initiator, cn, "only the initiator")
    self._check(self._paid(task_id), cn, "task not paid")
    log AccessClaimed(task_id=task_id, initiator=msg.sender)


# ---------------------------------------------------------------- views


@external
@view
def get_task(task_id: uint256) -> Task:
    t: Task = self.tasks[task_id]
    self._check(t.initiator != empty(address), "get_task", "unknown task")
    return t


@external
@view
def get_submissions(task_id: uint256) -> DynArray[Submission, MAX_SUBMISSIONS]:
    self._check(self.tasks[task_id].initiator != empty(address), "get_submissions", "unknown task")
    return self.submissions[task_id]


@external
@view
def get_registrants(task_id: uint256) -> DynArray[address, MAX_REGISTRANTS]:
    self._check(self.tasks[task_id].initiator != empty(address), "get_registrants", "unknown task")
    return self.registrants[task_id]


@external
@view
def get_committee(task_id: uint256) -> DynArray[address, MAX_COMMITTEE]:
    self._check(self.tasks[task_id].initiator != empty(address), "get_committee", "unknown task")
    return self.committee[task_id]


@external
@view
def get_report(task_id: uint256, verifier: address) -> (bool, uint256, DynArray[int256, PAPER_SUBMISSIONS]):
    self._check(self.tasks[task_id].initiator != empty(address), "get_report", "unknown task")
    return self.has_revealed[task_id][verifier], self.report_accuracy[task_id][verifier], self.report_scores[task_id][verifier]


@external
@view
def get_tally(task_id: uint256) -> Tally:
    return self.tally[task_id]


@external
@view
def score_sum(task_id: uint256, index: uint256) -> int256:
    """A claim-settled task's score sum of submission `index` over the reports at or above the MAFR."""
    return self._score_sum(task_id, index)


# ---------------------------------------------------------------- internals


@internal
@view
def _score_sum(task_id: uint256, m: uint256) -> int256:
    v: uint256 = (self.score_sums[task_id][m // LANES] >> (32 * (m % LANES))) & LANE
    if v >= 2**31:
        return convert(v, int256) - 2**32
    return convert(v, int256)


@internal
def _tally(task_id: uint256, acc: uint256, scores: DynArray[int256, MAX_SUBMISSIONS]):
    """Add a report to the claim tally: O(scores), one storage word per LANES scores."""
    ta: Tally = self.tally[task_id]
    ta.acc_all += acc
    if acc >= self.tasks[task_id].params.mafr_bps * (PPM // BPS):
        # only reports at or above the MAFR can pay contributors (majority, tolerance 0)
        ta.n_above += 1
        ta.acc_above += acc
        n: uint256 = len(scores)
        word: uint256 = 0
        for m: uint256 in range(MAX_SUBMISSIONS):
            if m >= n:
                break
            if m % LANES == 0:
                word = self.score_sums[task_id][m // LANES]
            sh: uint256 = 32 * (m % LANES)
            old: int256 = convert((word >> sh) & LANE, int256)
            if old >= 2**31:
                old -= 2**32
            # |sum| <= MAX_COMMITTEE * PPM < 2**31: the lane never overflows
            new: int256 = old + scores[m]
            word = (word & ~(LANE << sh)) | ((convert(new + 2**32, uint256) & LANE) << sh)
            if old > 0:
                ta.pos_total -= convert(old, uint256)
                ta.n_pos -= 1
            if new > 0:
                ta.pos_total += convert(new, uint256)
                ta.n_pos += 1
            if m % LANES == LANES - 1 or m + 1 == n:
                self.score_sums[task_id][m // LANES] = word
    self.tally[task_id] = ta


@internal
def _open_claims(task_id: uint256, pool: uint256):
    """Lock a claim-settled task's contributor pool until claim_pay has paid it out."""
    self.tally[task_id].pool = pool
    self.total_locked += pool


@internal
@view
def _paid(task_id: uint256) -> bool:
    return self.tasks[task_id].finalized and self.tasks[task_id].accepted


@internal
@pure
def _check(ok: bool, call: String[32], why: String[80]):
    """assert ok, concat(call, ": ", why), built once here rather than at every site."""
    if not ok:
        raw_revert(abi_encode(concat(call, ": ", why), method_id=method_id("Error(string)")))


@internal
@view
def _require_open(task_id: uint256, call: String[32]):
    self._check(self.tasks[task_id].initiator != empty(address), call, "unknown task")
    self._check(not self.tasks[task_id].cancelled, call, "task cancelled")
    self._check(not self.tasks[task_id].finalized, call, "task finalized")


@internal
@pure
def _report_deadline(p: TaskParams) -> uint256:
    if p.commit_reveal:
        return p.commit_deadline
    return p.reveal_deadline


@internal
@view
def _deadlines(task_id: uint256) -> (uint256, uint256):
    """The members' (commit or report, reveal) deadlines: from the draw when report_window_s > 0."""
    w: uint256 = self.tasks[task_id].params.report_window_s
    if w == 0 or not self.tasks[task_id].drawn:
        return self.tasks[task_id].params.commit_deadline, self.tasks[task_id].params.reveal_deadline
    at: uint256 = self.tasks[task_id].drawn_at
    if self.tasks[task_id].params.commit_reveal:
        return at + w, at + 2 * w
    return at + w, at + w


@internal
@view
def _open_report(task_id: uint256, cn: String[32], claim: bool):
    """The checks of report and report_claim, before the report's own."""
    self._require_open(task_id, cn)
    self._settled_by(task_id, cn, claim)
    self._check(not self.tasks[task_id].params.commit_reveal, cn, "this task uses commit-reveal")
    self._check(self.tasks[task_id].drawn, cn, "committee not drawn")
    self._check(block.timestamp < self._deadlines(task_id)[1], cn, "reveal deadline passed")


@internal
@view
def _open_reveal(task_id: uint256, h: bytes32, cn: String[32], claim: bool):
    """The checks of reveal and reveal_claim (h: the revealed report's commitment)."""
    self._require_open(task_id, cn)
    self._settled_by(task_id, cn, claim)
    self._check(self.tasks[task_id].params.commit_reveal, cn, "this task does not use commit-reveal")
    cd: uint256 = 0
    rd: uint256 = 0
    cd, rd = self._deadlines(task_id)
    self._check(block.timestamp >= cd, cn, "commit phase still open")
    self._check(block.timestamp < rd, cn, "reveal deadline passed")
    c: bytes32 = self.commitments[task_id][msg.sender]
    self._check(c != empty(bytes32), cn, "no commitment")
    self._check(c == h, cn, "does not match commitment")


@internal
@view
def _settled_by(task_id: uint256, cn: String[32], claim: bool):
    """A claim-settled task takes its reports through report_claim, and only it."""
    self._check((self.tasks[task_id].params.aggregation == AGG_CLAIM) == claim, cn, "wrong call for the task's settlement")


@internal
def _admit(task_id: uint256, accuracy_ppm: uint256, n_scores: uint256, call: String[32]):
    """The checks and records shared by both kinds of report (scores aside)."""
    self._check(self.is_member[task_id][msg.sender], call, "not a committee member")
    self._check(not self.has_revealed[task_id][msg.sender], call, "already reported")
    self._check(accuracy_ppm <= PPM, call, "accuracy above 1e6 ppm")
    self._check(n_scores == self.tasks[task_id].n_submissions, call, "one score per submitted model needed")
    self.has_revealed[task_id][msg.sender] = True
    self.report_accuracy[task_id][msg.sender] = accuracy_ppm
    self.tasks[task_id].n_revealed += 1


@internal
def _record_report(task_id: uint256, accuracy_ppm: uint256, scores_ppm: DynArray[int256, PAPER_SUBMISSIONS], call: String[32]):
    """A paper report: stored whole (paper-bounded types keep the memory frames small)."""
    self._admit(task_id, accuracy_ppm, len(scores_ppm), call)
    for s: int256 in scores_ppm:
        self._check(s >= -convert(PPM, int256) and s <= convert(PPM, int256), call, "score outside [-1e6, 1e6] ppm")
    self.report_scores[task_id][msg.sender] = scores_ppm
    log ReportRevealed(task_id=task_id, verifier=msg.sender, accuracy_ppm=accuracy_ppm, scores_ppm=scores_ppm)


@internal
def _credit(account: address, amount: uint256):
    if amount == 0:
        return
    self.credit[account] += amount
    self.total_credit += amount


@internal
def _return_stake(task_id: uint256, verifier: address, amount: uint256):
    if amount == 0:
        return
    self._credit(verifier, amount)
    log StakeReturned(task_id=task_id, verifier=verifier, amount=amount)


@internal
def _settle_refund(task_id: uint256, initiator: address, amount: uint256):
    if amount == 0:
        return
    self._credit(initiator, amount)
    log Refunded(task_id=task_id, initiator=initiator, amount=amount)


@internal
@pure
def _sorted(xs: DynArray[int256, MAX_COMMITTEE]) -> DynArray[int256, MAX_COMMITTEE]:
    a: DynArray[int256, MAX_COMMITTEE] = xs
    n: uint256 = len(a)
    for i: uint256 in range(1, MAX_COMMITTEE):
        if i >= n:
            break
        x: int256 = a[i]
        j: uint256 = i
        for _k: uint256 in range(MAX_COMMITTEE):
            if j == 0 or a[j - 1] <= x:
                break
            a[j] = a[j - 1]
            j -= 1
        a[j] = x
    return a


@internal
@pure
def _robust_center(xs: DynArray[int256, MAX_COMMITTEE], aggregation: uint8, trim_bps: uint256) -> int256:
    """Median (lower and upper middle averaged) or trimmed mean of xs (non-empty)."""
    a: DynArray[int256, MAX_COMMITTEE] = self._sorted(xs)
    n: uint256 = len(a)
    if aggregation == AGG_MEDIAN:
        if n % 2 == 1:
            return a[n // 2]
        return (a[n // 2 - 1] + a[n // 2]) // 2
    cut: uint256 = n * trim_bps // BPS
    total: int256 = 0
    for i: uint256 in range(MAX_COMMITTEE):
        if i >= n - cut:
            break
        if i >= cut:
            total += a[i]
    return total // convert(n - 2 * cut, int256)


@internal
@view
def _aggregate(task_id: uint256, p: TaskParams, reps: DynArray[address, MAX_COMMITTEE], accs: DynArray[uint256, MAX_COMMITTEE], n_sub: uint256) -> (bool, uint256, DynArray[int256, PAPER_SUBMISSIONS]):
    threshold: uint256 = p.mafr_bps * (PPM // BPS)
    agg: uint8 = p.aggregation
    scores: DynArray[int256, PAPER_SUBMISSIONS] = []
    if agg == AGG_MAJORITY:
        n_above: uint256 = 0
        for a: uint256 in accs:
            if a >= threshold:
                n_above += 1
        accepted: bool = 2 * n_above > len(accs)
        # aggregate = mean over the reports on the winning side
        acc_sum: uint256 = 0
        n_win: uint256 = 0
        sums: DynArray[int256, PAPER_SUBMISSIONS] = []
        for m: uint256 in range(PAPER_SUBMISSIONS):
            if m >= n_sub:
                break
            sums.append(0)
        for i: uint256 in range(MAX_COMMITTEE):
            if i >= len(reps):
                break
            if (accs[i] >= threshold) == accepted:
                n_win += 1
                acc_sum += accs[i]
                rs: DynArray[int256, PAPER_SUBMISSIONS] = self.report_scores[task_id][reps[i]]
                for m: uint256 in range(PAPER_SUBMISSIONS):
                    if m >= n_sub:
                        break
                    sums[m] += rs[m]
        for m: uint256 in range(PAPER_SUBMISSIONS):
            if m >= n_sub:
                break
            scores.append(sums[m] // convert(n_win, int256))
        return accepted, acc_sum // n_win, scores

    acc_col: DynArray[int256, MAX_COMMITTEE] = []
    for a: uint256 in accs:
        acc_col.append(convert(a, int256))
    agg_acc: uint256 = convert(self._robust_center(acc_col, agg, p.trim_bps), uint256)
    for m: uint256 in range(PAPER_SUBMISSIONS):
        if m >= n_sub:
            break
        col: DynArray[int256, MAX_COMMITTEE] = []
        for v: address in reps:
            col.append(self.report_scores[task_id][v][m])
        scores.append(self._robust_center(col, agg, p.trim_bps))
    return agg_acc >= threshold, agg_acc, scores


@internal
@view
def _agrees(task_id: uint256, v: address, p: TaskParams, accepted: bool, agg_acc: uint256, agg_scores: DynArray[int256, PAPER_SUBMISSIONS]) -> bool:
    if not self.has_revealed[task_id][v]:
        return False
    acc: uint256 = self.report_accuracy[task_id][v]
    if (acc >= p.mafr_bps * (PPM // BPS)) != accepted:
        return False
    tol: uint256 = p.tolerance_ppm
    if tol == 0:
        return True
    if max(acc, agg_acc) - min(acc, agg_acc) > tol:
        return False
    rs: DynArray[int256, PAPER_SUBMISSIONS] = self.report_scores[task_id][v]
    for m: uint256 in range(PAPER_SUBMISSIONS):
        if m >= len(agg_scores):
            break
        if abs(rs[m] - agg_scores[m]) > convert(tol, int256):
            return False
    return True


@internal
def _judge_committee(task_id: uint256, p: TaskParams, members: DynArray[address, MAX_COMMITTEE], accepted: bool, agg_acc: uint256, agg_scores: DynArray[int256, PAPER_SUBMISSIONS]) -> (DynArray[address, MAX_COMMITTEE], uint256):
    """Return the stakes of agreeing members, slash the others; the agreeing members and the slashed sum."""
    agreeing: DynArray[address, MAX_COMMITTEE] = []
    slashed: uint256 = 0
    stake: uint256 = p.verifier_stake
    cut: uint256 = 0
    gone: uint256 = 0
    if len(members) > 0:  # finding 5: no slash arithmetic for an empty committee
        cut = stake * p.slash_bps // BPS
        gone = cut
        if p.unrevealed_slash_bps > 0:
            gone = stake * p.unrevealed_slash_bps // BPS
    for v: address in members:
        kept: uint256 = stake
        if self._agrees(task_id, v, p, accepted, agg_acc, agg_scores):
            agreeing.append(v)
        else:
            reason: uint8 = SLASH_DISAGREE
            c: uint256 = cut
            if not self.has_revealed[task_id][v]:
                reason = SLASH_ABSENT
                c = gone
            slashed += c
            kept = stake - c
            if c > 0:
                log VerifierSlashed(task_id=task_id, verifier=v, amount=c, reason=reason)
        self._return_stake(task_id, v, kept)
    return agreeing, slashed


@internal
def _pay_contributors(task_id: uint256, cpool: uint256, agg_scores: DynArray[int256, PAPER_SUBMISSIONS], n_sub: uint256) -> uint256:
    """Pay cpool in proportion to the positive aggregate scores; return the undistributed rest."""
    total: uint256 = 0
    for s: int256 in agg_scores:
        if s > 0:
            total += convert(s, uint256)
    if total == 0:
        return cpool
    paid: uint256 = 0
    mask: uint256 = 0
    for m: uint256 in range(PAPER_SUBMISSIONS):
        if m >= n_sub:
            break
        s: int256 = agg_scores[m]
        if s > 0:
            amount: uint256 = cpool * convert(s, uint256) // total
            paid += amount
            mask |= 1 << m
            # one submission read at a time: a copy of the whole array would fill a frame
            # 1,024 submissions wide (memory expansion) and read every CID
            who: address = self.submissions[task_id][m].contributor
            self._credit(who, amount)
            log ContributorPaid(task_id=task_id, contributor=who, index=m, amount=amount, score_ppm=s)
    self.tasks[task_id].accepted_mask = mask
    return cpool - paid
