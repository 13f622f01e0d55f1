// A class hierarchy whose virtual methods have very different frames in
// different slots: a call through one slot can only reach that slot's
// overriders.

struct Shape {
    virtual ~Shape() {}
    virtual int area(int s) const = 0;       // slot 2 (after the two destructors)
    virtual long render(long s) const = 0;   // slot 3
};
struct Square : Shape {
    int area(int s) const override { int t[4] = {s, s, s, s}; return t[s & 3] * s; }
    long render(long s) const override { volatile char img[8192]; img[s & 8191] = 1; return img[(s * 5) & 8191]; }
};
struct Circle : Shape {
    int area(int s) const override { volatile char pad[300]; pad[s % 300] = 1; return 3 * s * s + pad[0]; }
    long render(long s) const override { volatile char img[20000]; img[s % 20000] = 1; return img[(s * 3) % 20000]; }
};
struct Dot : Circle {
    int area(int s) const override { volatile char b[40]; b[s % 40] = 1; return b[(s * 7) % 40]; }
};

__attribute__((noinline)) int measure(const Shape &sh, int s) { return sh.area(s) + 1; }
__attribute__((noinline)) long draw(const Shape *sh, long s) { return sh->render(s) * 2; }

int main(int argc, char **)
{
    Square q;
    Circle c;
    Dot d;
    const Shape *all[] = {&q, &c, &d};
    int r = 0;
    for (int i = 0; i < 3; i++)
        r += measure(*all[i], argc + i);
    if (argc > 3)
        r += (int)draw(all[argc % 3], argc);
    return r & 1;
}
