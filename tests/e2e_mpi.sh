#!/usr/bin/env bash
# A study across MPI ranks (`make MPI=1`, Open MPI): under `mpirun -np 3` rank 0 is the
# controller and ranks 1-2 train; grid and random studies give the same trials and
# metric rows as one worker thread, with Open MPI's default transport and with TCP
# forced; Hyperband trains its plan; the ensemble equals a threaded run's; a worker rank
# killed with SIGKILL is named by rank 0, and the rerun completes.  The MPI build run
# alone behaves as the plain build; the plain
# build under mpirun says what is wrong (exit 2); a rank that reads other data, or cannot
# read it, is named with its host (exit 2, nothing written).  Skipped where mpicc or
# mpirun is missing (CI installs Open MPI).
set -u -o pipefail
cd "$(dirname "$0")/.."
root=$PWD
source tests/study_lib.sh
if ! command -v mpicc >/dev/null || ! command -v mpirun >/dev/null; then
    echo "skipped: no Open MPI (mpicc, mpirun): make deps"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
study_setup mpi fmnist

# the MPI build, in its own directory (build-mpi/; the plain build is untouched)
make -C "$root" MPI=1 -j2 build-mpi/ksearch >build.log 2>&1
check "make MPI=1 builds build-mpi/ksearch" $? "$(tail -5 build.log)"
ksmpi=$root/build-mpi/ksearch
run_mpi() { mpirun --allow-run-as-root --oversubscribe --quiet "$@"; }

for method in grid random; do
    if [[ $method == grid ]]; then lr='{values: [0.003, 0.01]}'; else lr='{float: [1.0e-3, 1.0e-2], log: true}'; fi
    mkdir "${method}_ref" "${method}_mpi" "${method}_tcp" "${method}_threads" "${method}_alone"
    for d in ref mpi tcp threads alone; do
        fmnist_study "${method}_$d/s.yaml" m 3 $method 1000 2 4 1 '[8, 16]' "$lr"
    done
    # the reference: the MPI build without mpirun, one worker thread
    (cd "${method}_ref" && "$ksmpi" s.yaml --parallel 1 >out 2>err)
    check "$method: the MPI build without mpirun, --parallel 1: exit 0" $? "$(cat ${method}_ref/err)"
    (cd "${method}_mpi" && run_mpi -np 3 "$ksmpi" s.yaml >out 2>err)
    check "$method: mpirun -np 3: exit 0" $? "$(cat ${method}_mpi/err)"
    (cd "${method}_tcp" && run_mpi --mca btl tcp,self -np 3 "$ksmpi" s.yaml >out 2>err)
    check "$method: mpirun --mca btl tcp,self -np 3: exit 0" $? "$(cat ${method}_tcp/err)"
    # one worker rank with two threads
    (cd "${method}_threads" && run_mpi -np 2 "$ksmpi" s.yaml --parallel 2 >out 2>err)
    check "$method: mpirun -np 2, --parallel 2: exit 0" $? "$(cat ${method}_threads/err)"
    ref=${method}_ref/runs/m/study.db
    for d in mpi tcp threads; do
        db=${method}_$d/runs/m/study.db
        [[ -n "$(trials_of $ref)" && "$(trials_of $db)" == "$(trials_of $ref)" ]]
        check "$method, $d: the trials equal --parallel 1's" $? "$(trials_of $db)"
        [[ "$(values_of $db)" == "$(values_of $ref)" ]]
        check "$method, $d: every metric row equals --parallel 1's" $?
    done
    # the plain build gives the same numbers when built alike (not a sanitizer build,
    # whose -O1 rounds otherwise)
    if [[ $ks == "$root/build/ksearch" ]]; then
        (cd "${method}_alone" && "$ks" s.yaml --parallel 1 >out 2>err)
        check "$method: the plain build, --parallel 1: exit 0" $? "$(cat ${method}_alone/err)"
        db=${method}_alone/runs/m/study.db
        [[ "$(trials_of $db)" == "$(trials_of $ref)" && "$(values_of $db)" == "$(values_of $ref)" ]]
        check "$method: the MPI build run alone gives the plain build's trials and rows" $?
    else
        skip "$method: the MPI build against $ks (another build's rounding)"
    fi
    grep -q "2 workers (2 MPI ranks x 1)" "${method}_mpi/out"
    check "$method: rank 0 says it runs 2 worker ranks" $? "$(head -1 ${method}_mpi/out)"
done

# Hyperband under MPI trains exactly its plan (R = 9, eta = 3: 69 epochs, 17 trials, 5 at
# 9; see e2e_study_parallel.sh), and a study's ensemble equals the threaded run's
mkdir hb
hyperband_study hb/s.yaml hb 5 1000 9 1
(cd hb && run_mpi -np 3 "$ksmpi" s.yaml >out 2>err)
check "hyperband, mpirun -np 3: exit 0" $? "$(cat hb/err)"
row=$(q hb/runs/hb/study.db "SELECT sum(epochs), count(*), sum(epochs = 9) FROM trial;")
[[ $row == "69|17|5" ]]
check "hyperband over 2 ranks trains its plan: 69 epochs, 17 trials, 5 at 9 ($row)" $?
mkdir ens_ref ens_mpi
for d in ens_ref ens_mpi; do
    fmnist_study $d/s.yaml e 3 grid 1000 2 4 1 '[8, 16]' '{values: [0.003, 0.01]}'
    printf 'ensemble: {top: 3, weights: [uniform, greedy]}\n' >>$d/s.yaml
done
(cd ens_ref && "$ksmpi" s.yaml --parallel 1 >out 2>err)
check "ensemble study, --parallel 1: exit 0" $? "$(cat ens_ref/err)"
(cd ens_mpi && run_mpi -np 3 "$ksmpi" s.yaml >out 2>err)
check "ensemble study, mpirun -np 3: exit 0" $? "$(cat ens_mpi/err)"
[[ -n "$(ensembles_of ens_ref/runs/e/study.db)" && "$(ensembles_of ens_mpi/runs/e/study.db)" == "$(ensembles_of ens_ref/runs/e/study.db)" ]]
check "the ensemble built after an MPI run equals the threaded run's" $? "$(ensembles_of ens_mpi/runs/e/study.db | head -3)"

# each rank through a wrapper that logs its exit status (DIR/ranks.log): rank_wrapper DIR
# (the wrapper itself ignores SIGTERM, so that mpirun ending the job after rank 0's exit
# status 1 cannot end it before it logs; its child sets its own handlers)
rank_wrapper() {
    cat >"$1/rank.sh" <<'SH'
#!/usr/bin/env bash
trap '' TERM INT
"$@"
rc=$?
echo "rank ${OMPI_COMM_WORLD_RANK:?} exit $rc" >>ranks.log
exit $rc
SH
    chmod +x "$1/rank.sh"
}
# the process of rank R of the mpirun PID: rank_pid PID R (with a wrapper, its child)
rank_pid() {
    local p
    for p in $(pgrep -P "$1"); do
        if grep -qz "^OMPI_COMM_WORLD_RANK=$2\$" /proc/$p/environ 2>/dev/null; then
            if grep -q 'rank\.sh' /proc/$p/cmdline; then pgrep -P "$p"; else echo "$p"; fi
        fi
    done
}

# kill -9 of a worker rank mid-study: rank 0 names it and its host and records its trial
# interrupted (and exits 1 itself); mpirun's own status is Open MPI's: the first process
# that ended abnormally sets it (ORTE_UPDATE_EXIT_STATUS: first non-zero wins), 137 for
# the killed rank's SIGKILL, whatever rank 0 does after.  The database is intact and the
# rerun completes without a duplicate number and without touching a completed trial
mkdir kill
fmnist_study kill/s.yaml k 3 random 6000 10 6 1 '[16, 32]' '{float: [1.0e-3, 1.0e-2], log: true}'
(cd kill && exec mpirun --allow-run-as-root --oversubscribe --quiet -np 3 "$ksmpi" s.yaml >out 2>err) &
pid=$!
pids+=("$pid")
wait_db kill/runs/k/study.db "$pid" "SELECT (SELECT count(*) FROM trial WHERE status = 'complete') >= 1 AND
                                         (SELECT count(*) FROM trial WHERE status = 'running' AND epochs >= 1) >= 1;"
check "a trial completed and one runs" $?
victim=$(rank_pid "$pid" 1)
[[ -n $victim ]] && kill -9 "$victim"
check "rank 1's process found and killed" $?
wait "$pid"
rc=$?
grep -q "rank 1 on $(hostname) (pid $victim) ended while training trial [0-9]*" kill/err
check "the job ends, rank 0 names the rank, host and trial" $? "$(cat kill/err)"
[[ $rc == 137 ]]
check "mpirun exits with the killed rank's status, 137 ($rc)" $?
db=kill/runs/k/study.db
[[ "$(q $db 'PRAGMA integrity_check;')" == ok ]]
check "after the kill: integrity ok" $?
n=$(q $db "SELECT count(*) FROM trial WHERE status = 'running';")
[[ $n == 0 ]]
check "after the kill: no trial left running ($n)" $?
done_before=$(q $db "SELECT t.number, m.name, m.step, m.epoch, quote(m.value), quote(m.wall_time)
                       FROM metric m JOIN trial t ON t.id = m.trial_id WHERE t.status = 'complete'
                      ORDER BY 1, 2, 3, 4;")
(cd kill && run_mpi -np 3 "$ksmpi" s.yaml >out2 2>err2)
check "the rerun under mpirun: exit 0" $? "$(cat kill/err2)"
row=$(q $db "SELECT count(*), count(DISTINCT number), sum(status = 'complete'), max(number) FROM trial;")
[[ $row == "6|6|6|5" ]]
check "the rerun completes: 6 trials, numbers 0-5 once each, all complete ($row)" $?
done_after=$(q $db "SELECT t.number, m.name, m.step, m.epoch, quote(m.value), quote(m.wall_time)
                      FROM metric m JOIN trial t ON t.id = m.trial_id
                     WHERE t.number IN (SELECT number FROM trial) ORDER BY 1, 2, 3, 4;" |
            grep -F -x -f <(printf '%s\n' "$done_before") | wc -l)
[[ -n $done_before && $done_after == $(printf '%s\n' "$done_before" | wc -l) ]]
check "the completed trials' rows are unchanged by the rerun" $?

# the stop message: SIGTERM to rank 0 alone (not through mpirun, as a scheduler may send
# it) stops the study; rank 0 tells the worker ranks, whose fits end at their next batch:
# the running trials are recorded interrupted, no rank is reported lost, every worker
# rank leaves by itself (exit 0) and rank 0 with the interrupted study's 1
mkdir stop
fmnist_study stop/s.yaml st 3 random 6000 10 6 1 '[16, 32]' '{float: [1.0e-3, 1.0e-2], log: true}'
rank_wrapper stop
(cd stop && exec mpirun --allow-run-as-root --oversubscribe --quiet -np 3 ./rank.sh "$ksmpi" s.yaml >out 2>err) &
pid=$!
pids+=("$pid")
wait_db stop/runs/st/study.db "$pid" "SELECT count(*) FROM trial WHERE status = 'running' AND epochs >= 1;"
check "stop: a trial runs" $?
rank0=$(rank_pid "$pid" 0)
[[ -n $rank0 ]] && kill -TERM "$rank0"
check "stop: rank 0's process found and sent SIGTERM" $?
wait "$pid"
rc=$?
log=$(sort stop/ranks.log 2>/dev/null | tr '\n' ' ')
[[ $rc == 1 && $log == "rank 0 exit 1 rank 1 exit 0 rank 2 exit 0 " ]]
check "stop: rank 0 exits 1 (mpirun $rc), the worker ranks leave with 0" $? "$log; $(cat stop/err)"
! grep -q "ended while training" stop/err && grep -q "interrupted" stop/err
check "stop: no rank reported lost, the study says it was interrupted" $? "$(cat stop/err)"
row=$(q stop/runs/st/study.db "SELECT count(*), sum(status = 'running'), sum(status = 'complete') FROM trial;")
[[ $row =~ ^[1-6]\|0\|[0-5]$ ]]
check "stop: no trial left running, some left to finish ($row)" $?
(cd stop && run_mpi -np 3 "$ksmpi" s.yaml >out2 2>err2)
row=$(q stop/runs/st/study.db "SELECT count(*), count(DISTINCT number), sum(status = 'complete') FROM trial;")
[[ $row == "6|6|6" ]]
check "stop: the rerun completes the study ($row)" $? "$(cat stop/err2)"

# the plain build under mpirun: what is wrong, exit 2
mkdir plain
fmnist_study plain/s.yaml m 3 grid 1000 2 4 1 '[8, 16]' '{values: [0.01]}'
(cd plain && run_mpi -np 2 "$ks" s.yaml >out 2>err)
rc=$?
[[ $rc == 2 ]] && grep -q "built without MPI" plain/err && [[ ! -e plain/runs ]]
check "the plain build under mpirun: exit 2, says it was built without MPI" $? "rc $rc: $(cat plain/err)"

# each rank in a folder of its own with the same study file and data path: rank 1's
# data is other images, rank 2 has none
for r in 0 1 2; do
    mkdir -p "bad/r$r/fm"
    sed "s|$fmnist/t10k|fm/t10k|" plain/s.yaml >"bad/r$r/s.yaml"
done
for f in images-idx3 labels-idx1; do
    ln -s "$fmnist/t10k-$f-ubyte.gz" "bad/r0/fm/t10k-$f-ubyte.gz"
    ln -s "$fmnist/train-$f-ubyte.gz" "bad/r1/fm/t10k-$f-ubyte.gz"
done
cat >bad/rank.sh <<'SH'
#!/usr/bin/env bash
cd "$(dirname "$0")/r${OMPI_COMM_WORLD_RANK:?}" && exec "$@"
SH
chmod +x bad/rank.sh
run_mpi -np 2 bad/rank.sh "$ksmpi" s.yaml >bad/out 2>bad/err
rc=$?
[[ $rc == 2 && $(grep -c . bad/err) == 1 ]] && grep -q "rank 1 on $(hostname) loaded other data" bad/err &&
    [[ ! -e bad/r0/runs ]]
check "a rank with other data: exit 2, one message naming rank 1 and its host, nothing written" $? \
    "rc $rc: $(cat bad/err)"
run_mpi -np 3 bad/rank.sh "$ksmpi" s.yaml >bad/out2 2>bad/err2
rc=$?
# (rank 1 differs too: the first rank that differs is named)
[[ $rc == 2 ]] && grep -q "rank 1 on $(hostname)" bad/err2 && [[ ! -e bad/r0/runs ]]
check "ranks with bad data among three: exit 2, the first named" $? "rc $rc: $(cat bad/err2)"
rm bad/r1/fm/*
for f in images-idx3 labels-idx1; do ln -s "$fmnist/t10k-$f-ubyte.gz" "bad/r1/fm/t10k-$f-ubyte.gz"; done
run_mpi -np 3 bad/rank.sh "$ksmpi" s.yaml >bad/out3 2>bad/err3
rc=$?
[[ $rc == 2 ]] && grep -q "rank 2 on $(hostname) cannot load the study's data" bad/err3 &&
    [[ ! -e bad/r0/runs ]]
check "a rank that cannot read the data: exit 2, named with its host, nothing written" $? \
    "rc $rc: $(cat bad/err3)"

finish
