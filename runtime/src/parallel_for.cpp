// The kernels' parallel loop (installed as Halide's do_par_for): a small pool
// whose threads each own a fixed, contiguous block of a loop's tasks and then
// help with what is left, and which waits for the next loop by spinning
// briefly before it sleeps. docs/threading.md gives the measurements.
//
// Why not Halide's own pool (its default do_par_for):
// - It hands tasks out first come, first served, so which core runs which
//   task changes from call to call. A layer's weights, split over the cores'
//   private L2 caches, then move between them on every call; with the same
//   block of tasks (the same weight panels) on the same thread each call they
//   stay put (int8 GEMV 1x1024x1024, 2 threads: 1 MB of weights).
// - Its workers and the calling thread sleep on condition variables as soon
//   as they find nothing to do, so each parallel loop pays a futex wake-up,
//   several microseconds on a VM, twice (start and end). A conv call runs two
//   parallel loops (padded copy, then the conv).
//
// Why not OpenMP: libgomp's threads spin for milliseconds at a barrier
// before they sleep (its default wait policy, fixed when the library loads).
// With more runnable threads than cores (two test processes on two cores,
// ctest -j2) a loop then waits for a thread that is spinning elsewhere or not
// running at all: the training tests went from 1.5 s to 27 s. Here every
// spin is bounded (kSpin) and yields the core while it waits.
#include "parallel_for.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace qforge::detail {

namespace {

// How long a waiting thread spins before it sleeps: a worker after a loop
// (so back-to-back kernel calls find it awake), the caller for the workers'
// last tasks. Longer than the gaps between one layer's kernels, far shorter
// than a scheduler time slice.
constexpr auto kSpin = std::chrono::microseconds(100);

inline void cpu_relax() {
#if defined(__x86_64__)
    _mm_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// Spins until done() or kSpin has passed; returns done(). Yields the core
// every few dozen checks, so that a thread it waits for on the same core
// (more runnable threads than cores) gets to run.
template<typename Done>
bool spin_until(Done done) {
    const auto deadline = std::chrono::steady_clock::now() + kSpin;
    for (;;) {
        for (int i = 0; i < 32; i++) {
            if (done()) return true;
            cpu_relax();
        }
        if (std::chrono::steady_clock::now() >= deadline) return done();
        std::this_thread::yield();
    }
}

int default_threads() {
    // Halide's rule, so HL_NUM_THREADS keeps its meaning for qforge's kernels.
    for (const char *name : {"HL_NUM_THREADS", "HL_NUMTHREADS"}) {
        if (const char *env = std::getenv(name); env && *env) return std::atoi(env);
    }
    return static_cast<int>(std::thread::hardware_concurrency());
}

// Halide's bounds for a thread count, too.
constexpr int kMaxThreads = 256;
int clamp_threads(int n) { return std::min(std::max(1, n), kMaxThreads); }

// One thread's block of tasks [next, end), a cache line each, so that
// threads taking tasks from their own blocks do not share a line.
struct alignas(64) TaskBlock {
    std::atomic<int> next{0};
    int end = 0;
};

// The pool's current loop: its tasks cut into `blocks` contiguous blocks,
// block t for thread t of the team (the caller is thread 0).
struct Loop {
    void *user_context = nullptr;
    halide_task_t task = nullptr;
    int min = 0;
    uint8_t *closure = nullptr;
    int blocks = 0;
    std::atomic<int> status{0};  // the status of a task that failed, else 0
};

// threads - 1 workers; the thread that runs a loop is the team's thread 0.
// One loop at a time: a second caller meanwhile (another app thread, or a
// task's own nested loop) runs its loop by itself (try_run returns false).
// The caller returns once every worker has been through the loop, even one
// that found every task already taken: a worker the OS has not scheduled
// (more runnable threads than cores) delays the loop's end, not its tasks.
class Pool {
public:
    explicit Pool(int threads) : threads_(threads), block_(new TaskBlock[threads]) {
        try {
            workers_.reserve(threads - 1);
            for (int i = 1; i < threads; i++) workers_.emplace_back([this, i] { work(i); });
        } catch (...) {
            stop_workers();  // the ones that started (a std::thread must not be destroyed running)
            throw;
        }
    }

    ~Pool() { stop_workers(); }

    int threads() const { return threads_; }

    // Runs the loop; false (nothing run) if another loop is running.
    bool try_run(void *user_context, halide_task_t task, int min, int size, uint8_t *closure, int &status) {
        // A flag, not a mutex: a task's nested loop tries it from the thread
        // that holds it.
        if (busy_.exchange(true, std::memory_order_acquire)) return false;
        // Every worker finished the previous loop (pending_ reached 0), so
        // loop_ and block_ are the caller's until the release below.
        const int blocks = std::min(size, threads_);
        for (int t = 0; t < blocks; t++) {
            block_[t].next.store(int(int64_t(size) * t / blocks), std::memory_order_relaxed);
            block_[t].end = int(int64_t(size) * (t + 1) / blocks);
        }
        loop_.user_context = user_context;
        loop_.task = task;
        loop_.min = min;
        loop_.closure = closure;
        loop_.blocks = blocks;
        loop_.status.store(0, std::memory_order_relaxed);
        pending_.store(threads_ - 1, std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);  // publishes the loop and pending_
        // Workers past their spin sleep on wake_. Taking the mutex after the
        // store orders it against a worker between its check and its wait.
        { std::lock_guard<std::mutex> lock(sleep_mutex_); }
        wake_.notify_all();
        run_loop(0);
        auto finished = [this] { return pending_.load(std::memory_order_acquire) == 0; };
        if (!spin_until(finished)) {
            std::unique_lock<std::mutex> lock(sleep_mutex_);
            done_.wait(lock, finished);
        }
        status = loop_.status.load(std::memory_order_relaxed);
        busy_.store(false, std::memory_order_release);
        return true;
    }

private:
    // Thread `self`'s part: its own block, then whatever is left of the others.
    void run_loop(int self) {
        for (int b = 0; b < loop_.blocks; b++) {
            TaskBlock &block = block_[(self + b) % loop_.blocks];
            for (;;) {
                if (loop_.status.load(std::memory_order_relaxed) != 0) return;  // a task failed: stop early
                const int i = block.next.fetch_add(1, std::memory_order_relaxed);
                if (i >= block.end) break;
                if (int rc = loop_.task(loop_.user_context, loop_.min + i, loop_.closure)) {
                    int none = 0;
                    loop_.status.compare_exchange_strong(none, rc);
                }
            }
        }
    }

    void stop_workers() {
        {
            std::lock_guard<std::mutex> lock(sleep_mutex_);
            stop_.store(true);
        }
        wake_.notify_all();
        for (std::thread &t : workers_) t.join();
    }

    void work(int self) {
        uint64_t seen = 0;  // the generation of the last loop this worker ran
        for (;;) {
            auto ready = [&] {
                return generation_.load(std::memory_order_acquire) != seen || stop_.load(std::memory_order_acquire);
            };
            if (!spin_until(ready)) {
                std::unique_lock<std::mutex> lock(sleep_mutex_);
                wake_.wait(lock, ready);
            }
            if (stop_.load(std::memory_order_acquire)) return;
            // The caller publishes the next loop only after every worker
            // finished this one, so no generation is ever skipped.
            seen = generation_.load(std::memory_order_acquire);
            run_loop(self);
            if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                { std::lock_guard<std::mutex> lock(sleep_mutex_); }  // as for wake_, above
                done_.notify_one();
            }
        }
    }

    const int threads_;
    std::vector<std::thread> workers_;
    std::atomic<bool> busy_{false};         // a loop is running
    std::unique_ptr<TaskBlock[]> block_;    // threads_ blocks of the current loop
    Loop loop_;                             // the current loop
    std::atomic<uint64_t> generation_{0};   // loops started
    std::atomic<int> pending_{0};           // workers still in the current loop
    std::atomic<bool> stop_{false};
    std::mutex sleep_mutex_;
    std::condition_variable wake_, done_;   // workers sleep on wake_, the caller on done_
};

std::atomic<int> g_threads{0};  // 0: not read from the environment yet
std::mutex g_pool_mutex;        // creating and replacing the pool
std::atomic<Pool *> g_pool{nullptr};

// A child of fork() has none of the parent's worker threads: it starts a
// pool of its own (the old one is left as it is, never used again).
// g_pool_mutex is held across the fork, so the child's copy is not locked
// by a thread that does not exist there.
void lock_pool_before_fork() { g_pool_mutex.lock(); }
void unlock_pool_in_parent() { g_pool_mutex.unlock(); }
void forget_pool_in_child() {
    g_pool_mutex.unlock();
    g_pool.store(nullptr);
}

Pool *pool() {
    Pool *p = g_pool.load(std::memory_order_acquire);
    if (p) return p;
    std::lock_guard<std::mutex> lock(g_pool_mutex);
    p = g_pool.load();
    if (!p) {
        static std::once_flag atfork_once;
        std::call_once(atfork_once,
                       [] { pthread_atfork(lock_pool_before_fork, unlock_pool_in_parent, forget_pool_in_child); });
        p = new Pool(parallel_threads());
        g_pool.store(p, std::memory_order_release);
    }
    return p;
}

}  // namespace

void set_parallel_threads(int n) {
    std::lock_guard<std::mutex> lock(g_pool_mutex);
    g_threads.store(clamp_threads(n));
    // The next loop starts a pool of the new size. (Not while a loop runs:
    // qforge::set_num_threads is documented to be called between kernel calls.)
    if (Pool *p = g_pool.load(); p && p->threads() != g_threads.load()) {
        g_pool.store(nullptr);
        delete p;
    }
}

int parallel_threads() {
    int n = g_threads.load();
    if (n == 0) {
        int unset = 0;
        g_threads.compare_exchange_strong(unset, clamp_threads(default_threads()));
        n = g_threads.load();
    }
    return n;
}

int parallel_for(void *user_context, halide_task_t task, int min, int size, uint8_t *closure) noexcept {
    if (size > 1 && parallel_threads() > 1) {
        // Called from Halide's generated code: nothing may throw through it.
        // Starting the pool (threads, memory) is all that can fail, before
        // any task ran; the caller then runs the loop by itself.
        Pool *p = nullptr;
        try {
            p = pool();
        } catch (...) {
        }
        int status = 0;
        if (p && p->try_run(user_context, task, min, size, closure, status)) return status;
    }
    // One thread, one task, the pool busy (another thread's loop, or a loop
    // inside one of the pool's tasks) or not startable: the caller runs every task.
    for (int i = 0; i < size; i++) {
        if (int rc = task(user_context, min + i, closure)) return rc;
    }
    return 0;
}

}  // namespace qforge::detail
