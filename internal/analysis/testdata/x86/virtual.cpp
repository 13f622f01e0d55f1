// A C++ virtual call: the target depends on the object's dynamic type.
struct Shape {
    virtual ~Shape() {}
    virtual int area(int s) const = 0;
};
struct Square : Shape {
    int area(int s) const override { int t[4] = {s, s, s, s}; return t[s & 3] * s; }
};
struct Circle : Shape {
    int area(int s) const override { volatile char pad[100]; pad[0] = 1; return 3 * s * s + pad[0]; }
};
__attribute__((noinline)) int measure(const Shape &sh, int s) { return sh.area(s) + 1; }
int entry_virtual(int s)
{
    Square q;
    Circle c;
    return measure(q, s) + measure(c, s);
}
