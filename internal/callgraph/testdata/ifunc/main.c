int fa(int); int fb(int); int fc(int); void set_b(void);
int main(int argc, char **argv) { set_b(); return fa(argc) + fb(argc) + fc(argc) == 12345; }
