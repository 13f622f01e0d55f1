/* A C "ops table" reached through a struct: f->ops->open(f, x). The code
 * has the shape of a C++ virtual call (a load of the struct's first word,
 * then a call through a word of what it points to), but this is C: only
 * the DWARF types of f and of struct file_ops can narrow the targets. */
struct file;
struct file_ops {
    int (*open)(struct file *, int);
    long (*read)(struct file *, char *, long);
};
struct file { const struct file_ops *ops; int fd; };

static int open_a(struct file *f, int x) { volatile char b[32]; b[x & 31] = (char)f->fd; return b[(x * 3) & 31]; }
static int open_b(struct file *f, int x) { volatile char b[200]; b[x % 200] = (char)f->fd; return b[(x * 7) % 200]; }
static long read_a(struct file *f, char *buf, long n) { volatile char b[6000]; b[n % 6000] = buf[0]; return b[f->fd % 6000]; }
static long read_b(struct file *f, char *buf, long n) { volatile char b[9000]; b[n % 9000] = buf[0]; return b[f->fd % 9000]; }

const struct file_ops ops_a = {open_a, read_a};
const struct file_ops ops_b = {open_b, read_b};

__attribute__((noinline)) int do_open(struct file *f, int x) { return f->ops->open(f, x) + 1; }
__attribute__((noinline)) long do_read(struct file *f, char *buf, long n) { return f->ops->read(f, buf, n) * 2; }

int main(int argc, char **argv)
{
    struct file fa = {&ops_a, 3}, fb = {&ops_b, 4};
    int r = do_open(&fa, argc) + do_open(&fb, argc);
    if (argc > 2)
        r += (int)do_read(argc > 3 ? &fa : &fb, argv[0], argc);
    return r & 1;
}
