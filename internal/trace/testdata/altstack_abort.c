/* The pattern of Rust's runtime and of many crash reporters, in C: a
 * SIGSEGV handler on an alternate signal stack reports the fault and
 * aborts. A thread with a 256 KiB stack recurses into its guard page; the
 * handler runs on the thread's own sigaltstack, prints and calls abort(),
 * so the thread (and the program) dies of SIGABRT, status 134.
 * With the argument "recover" the handler jumps back out of the overflow
 * instead (siglongjmp), the thread goes on on its own stack and aborts
 * later for another reason: that abort is not a stack overflow.
 * Build: gcc -O0 -g -pthread altstack_abort.c */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int recover;
static __thread sigjmp_buf back;

static void on_segv(int sig) {
    (void)sig;
    if (recover)
        siglongjmp(back, 1);
    static const char msg[] = "altstack_abort: SIGSEGV caught on the alternate stack, aborting\n";
    write(2, msg, sizeof msg - 1);
    abort();
}

static int dive(int n) {
    volatile char pad[512];
    pad[0] = (char)n;
    return dive(n + 1) + pad[0];
}

static void *deep(void *arg) {
    (void)arg;
    stack_t ss;
    ss.ss_sp = malloc(64 * 1024);
    ss.ss_size = 64 * 1024;
    ss.ss_flags = 0;
    sigaltstack(&ss, NULL);
    if (sigsetjmp(back, 1)) {
        write(1, "recovered\n", 10);
        abort(); /* on the thread's own stack, long after the overflow */
    }
    return (void *)(long)dive(0);
}

int main(int argc, char **argv) {
    recover = argc > 1 && strcmp(argv[1], "recover") == 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_segv;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGSEGV, &sa, NULL);
    write(1, "start\n", 6);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t th;
    pthread_create(&th, &attr, deep, NULL);
    pthread_join(th, NULL);
    return 0;
}
