#!/usr/bin/env bash
# The acceptance test of resuming: a random study killed with SIGKILL ten times at
# random moments (KILL_SEED picks them; 1 by default), then run to its end, has every
# trial's status, epochs, objective, best epoch, best checkpoint (byte for byte) and
# metric rows equal to an uninterrupted run's.  After each kill the database passes
# integrity_check.  Prints how many kills landed while a trial was mid-way through its
# epochs.
set -u -o pipefail
cd "$(dirname "$0")/.."
source tests/study_lib.sh
study_setup kill fmnist
pid=

fmnist_study s.yaml kill 21 random 4000 15 12 2 '[16, 32]' '{float: [1.0e-3, 3.0e-2], log: true}' \
    '{float: [0.0, 0.3]}'
mkdir ref kill
cp s.yaml ref/ && cp s.yaml kill/
start=$(date +%s.%N)
(cd ref && "$ks" s.yaml >out 2>err)
check "the uninterrupted run exits 0" $? "$(cat ref/err)"
ref_seconds=$(echo "$(date +%s.%N) - $start" | bc)
ref_db=ref/runs/kill/study.db
db=kill/runs/kill/study.db

# ten kills, each at a random moment measured in the study's own progress, so that
# every kill lands before the study's end whatever the machine and its load: after a
# random number (0 to 12) of epochs finished since that run started, then a random part
# of one epoch's time.  Ten kills let at most 120 of the 180 epochs finish.
RANDOM=${KILL_SEED:-1}
epoch_ms=$(echo "$ref_seconds * 1000 * 2 / 180 / 1" | bc)
epochs_done() {
    local n
    n=$(q "$db" "SELECT count(*) FROM metric WHERE name = 'loss' AND step = -1;" 2>/dev/null)
    echo "${n:-0}"
}
kills=0 mid=0 starting=0 ok=0
for ((k = 0; k < 10; k++)); do
    after=$((RANDOM % 13))
    ms=$((RANDOM % (epoch_ms + 1)))
    delay=$((ms / 1000)).$(printf '%03d' $((ms % 1000)))
    base=$(epochs_done)
    (cd kill && exec "$ks" s.yaml >>out 2>>err) &
    pid=$!
    pids=("$pid")
    while kill -0 "$pid" 2>/dev/null && (($(epochs_done) < base + after)); do
        sleep 0.02
    done
    sleep "$delay"
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid"
        echo "the study ended before kill $((k + 1)) (after $after epochs and ${delay}s)"
        pid=
        break
    fi
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    pid=
    kills=$((kills + 1))
    if [[ ! -e $db ]]; then
        # killed while it loaded and checked its data: nothing written yet
        starting=$((starting + 1)) ok=$((ok + 1))
        continue
    fi
    r=$(q "$db" "PRAGMA integrity_check;" 2>&1)
    [[ $r == ok ]] && ok=$((ok + 1))
    [[ -z $r || $r == ok ]] || echo "after kill $kills: $r"
    # where it landed: a trial mid-way through its epochs, or before any trial ran
    m=$(q "$db" "SELECT count(*) FROM trial WHERE status = 'running' AND epochs > 0
                   AND epochs < budget;" 2>/dev/null)
    [[ ${m:-0} -ge 1 ]] && mid=$((mid + 1))
    [[ $(q "$db" "SELECT count(*) FROM trial WHERE status = 'running';" 2>/dev/null) == 0 ]] &&
        starting=$((starting + 1))
done
[[ $kills -eq 10 ]]
check "ten kills landed before the study ended (got $kills)" $?
[[ $ok -eq $kills ]]
check "integrity_check after every kill ($ok of $kills)" $?
echo "kills: $kills at random moments (KILL_SEED ${KILL_SEED:-1}); $mid while a trial was mid-way through its epochs, $starting before any trial ran; the uninterrupted run took ${ref_seconds%.*} s"
(cd kill && "$ks" s.yaml >out_last 2>err_last)
check "the last run finishes the study (exit 0)" $? "$(cat kill/err_last)"
ref=$(trials_of "$ref_db") got=$(trials_of "$db")
[[ $got == "$ref" && $(printf '%s\n' "$ref" | grep -c '|complete|15|15|') -eq 12 ]]
check "every trial's status, budget, epochs, objective and best epoch equal the uninterrupted run's" $? \
    "$(diff <(echo "$ref") <(echo "$got"))"
[[ $(values_of "$ref_db") == "$(values_of "$db")" ]]
check "every metric row (name, epoch, value) equals the uninterrupted run's" $? \
    "$(diff <(values_of "$ref_db") <(values_of "$db") | head -5)"
[[ $(best_bytes "$ref_db") == "$(best_bytes "$db")" ]]
check "every best checkpoint equals the uninterrupted run's, byte for byte" $?
[[ $(q "$db" "SELECT count(*) FROM (SELECT trial_id, name, epoch FROM metric WHERE step = -1
                GROUP BY 1, 2, 3 HAVING count(*) > 1);") == 0 ]]
check "no epoch value stored twice" $?
finish
