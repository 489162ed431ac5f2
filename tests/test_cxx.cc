/* SPDX-License-Identifier: MIT */
// tests/test_cxx.cc: C++ new/delete on nalloc (libstdc++'s operators call
// malloc, aligned_alloc and free, which nalloc replaces).
//
// Checks: scalar/array new and delete of many sizes, sized delete,
// over-aligned new (alignas 64 .. 4096 and operator new(size, align_val_t)),
// nothrow new of an impossible size gives nullptr, throwing new gives
// std::bad_alloc, containers (vector, string, map, unordered_map) grown and
// shared across std::threads with patterns checked, and the memory of
// operator new is nalloc's (malloc_usable_size knows it).
// Exit 0 pass, 1 fail.
#include <malloc.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

extern "C" int nalloc_num_nodes(void) __attribute__((weak));

static int failures;
static unsigned long checks;

#define CHECK(cond, ...)                                                         \
	do {                                                                     \
		checks++;                                                        \
		if (!(cond)) {                                                   \
			failures++;                                              \
			std::printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			std::printf(__VA_ARGS__);                                \
			std::printf("\n");                                       \
		}                                                                \
	} while (0)

template <std::size_t A> struct alignas(A) Over {
	unsigned char b[A];
};

template <std::size_t A> static void over_aligned()
{
	std::vector<Over<A> *> v;
	for (int i = 0; i < 32; i++) {
		Over<A> *o = new Over<A>;
		CHECK(reinterpret_cast<std::uintptr_t>(o) % A == 0, "new alignas(%zu) = %p", A,
		      static_cast<void *>(o));
		std::memset(o->b, i, A);
		v.push_back(o);
	}
	Over<A> *arr = new Over<A>[7];
	CHECK(reinterpret_cast<std::uintptr_t>(arr) % A == 0, "new alignas(%zu)[7] = %p", A,
	      static_cast<void *>(arr));
	delete[] arr;
	for (int i = 0; i < 32; i++) {
		CHECK(v[i]->b[A - 1] == (unsigned char)i, "alignas(%zu) object %d overwritten", A, i);
		delete v[i];
	}
}

static void basic()
{
	for (std::size_t n = 1; n < 300000; n = n * 3 / 2 + 1) {
		char *p = new char[n];
		std::memset(p, 0x5a, n);
		CHECK(malloc_usable_size(p) >= n, "malloc_usable_size(new char[%zu]) = %zu", n,
		      malloc_usable_size(p));
		delete[] p;
		void *q = ::operator new(n);
		std::memset(q, 1, n);
		::operator delete(q, n); // sized delete
	}
	for (std::size_t a = 1; a <= (1u << 16); a <<= 1) {
		void *q = ::operator new(100, std::align_val_t(a));
		CHECK(reinterpret_cast<std::uintptr_t>(q) % a == 0, "operator new(100, align %zu) = %p",
		      a, q);
		::operator delete(q, 100, std::align_val_t(a));
	}
	over_aligned<64>();
	over_aligned<256>();
	over_aligned<4096>();

	volatile std::size_t huge = SIZE_MAX / 2;
	void *nt = ::operator new(huge, std::nothrow);
	CHECK(nt == nullptr, "nothrow new of %zu bytes = %p", (std::size_t)huge, nt);
	bool threw = false;
	try {
		void *t = ::operator new(huge);
		::operator delete(t);
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	CHECK(threw, "new of %zu bytes did not throw std::bad_alloc", (std::size_t)huge);
	std::printf("new/delete: sizes 1..300000, sized delete, alignments 1..64K, nothrow and "
	            "bad_alloc\n");
}

static void containers()
{
	std::mutex mu;
	std::vector<std::unique_ptr<std::vector<std::uint64_t>>> shared;
	std::atomic<int> bad{0};
	auto work = [&](unsigned id) {
		std::map<std::string, std::string> m;
		std::unordered_map<std::uint64_t, std::vector<char>> um;
		for (unsigned i = 0; i < 20000; i++) {
			m[std::to_string(i * 7919 + id)] = std::string(i % 100, char('a' + i % 26));
			um[i].assign(i % 300, char(i));
			if (i % 3 == 0)
				m.erase(std::to_string((i / 2) * 7919 + id));
			if (i % 100 == 0) {
				auto v = std::make_unique<std::vector<std::uint64_t>>(i + 1);
				for (unsigned k = 0; k <= i; k++)
					(*v)[k] = std::uint64_t(i) * 1000003u + k;
				std::lock_guard<std::mutex> g(mu);
				shared.push_back(std::move(v));
			}
			if (i % 150 == 0) { // free one made by any thread
				std::unique_ptr<std::vector<std::uint64_t>> v;
				{
					std::lock_guard<std::mutex> g(mu);
					if (!shared.empty()) {
						v = std::move(shared.back());
						shared.pop_back();
					}
				}
				if (v) {
					std::uint64_t i0 = (*v)[0] / 1000003u;
					for (std::size_t k = 0; k < v->size(); k++)
						if ((*v)[k] != i0 * 1000003u + k)
							bad++;
				}
			}
		}
		for (auto &kv : um)
			if (kv.second.size() != kv.first % 300)
				bad++;
	};
	std::vector<std::thread> ts;
	for (unsigned i = 0; i < 4; i++)
		ts.emplace_back(work, i);
	for (auto &t : ts)
		t.join();
	for (auto &v : shared) {
		std::uint64_t i0 = (*v)[0] / 1000003u;
		for (std::size_t k = 0; k < v->size(); k++)
			if ((*v)[k] != i0 * 1000003u + k)
				bad++;
	}
	CHECK(bad == 0, "%d corrupted container elements", bad.load());
	// thread churn with thread_local containers
	for (int r = 0; r < 200; r++) {
		std::thread t([] {
			thread_local std::vector<std::string> tl;
			for (int i = 0; i < 50; i++)
				tl.emplace_back(200, 'x');
		});
		t.join();
	}
	std::printf("containers: map/unordered_map/vector/string across 4 threads, cross-thread "
	            "frees, 200 threads with thread_local containers\n");
}

int main()
{
	std::setvbuf(stdout, nullptr, _IOLBF, 0);
	const char *allow = std::getenv("NALLOC_TEST_ALLOW_LIBC");
	bool on_nalloc = nalloc_num_nodes != nullptr;
	std::printf("test_cxx: nalloc %s\n", on_nalloc ? "present" : "ABSENT");
	if (!on_nalloc && !(allow && *allow && std::strcmp(allow, "0"))) {
		std::printf("FAIL: not running on nalloc\n");
		failures++;
	}
	basic();
	containers();
	std::printf("test_cxx: %lu checks, %d failed: %s\n", checks, failures,
	            failures ? "FAIL" : "PASS");
	return failures ? 1 : 0;
}
