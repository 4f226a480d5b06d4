// Replays a fuzz target's corpus as an ordinary GoogleTest (no libFuzzer),
// so every CI run executes every input in fuzz/corpus/<target>/ with the
// normal compiler, the validation layer and the suite's checks. Built once
// per target by tests/fuzz_replay/meson.build with the target's source.
//
// HVK_FUZZ_INPUTS (environment, optional): ':'-separated files or folders to
// replay instead of the corpus, e.g. a crash reproducer libFuzzer wrote.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "halide_vk_runtime.h"
#include "test_env.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern "C" void hvk_fuzz_cleanup() __attribute__((weak));

namespace {

bool is_dir(const std::string &p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void collect(const std::string &path, std::vector<std::string> *out) {
    if (!is_dir(path)) {
        out->push_back(path);
        return;
    }
    DIR *dir = opendir(path.c_str());
    if (dir == nullptr) {
        return;
    }
    std::vector<std::string> names;
    while (dirent *e = readdir(dir)) {
        if (e->d_name[0] != '.') {
            names.push_back(e->d_name);
        }
    }
    closedir(dir);
    std::sort(names.begin(), names.end());
    for (const std::string &n : names) {
        collect(path + "/" + n, out);
    }
}

std::vector<uint8_t> read_all(const std::string &path) {
    std::vector<uint8_t> data;
    FILE *f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        return data;
    }
    uint8_t buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
        data.insert(data.end(), buf, buf + n);
    }
    std::fclose(f);
    return data;
}

TEST(FuzzCorpus, Replay) {
    std::vector<std::string> files;
    const char *inputs = std::getenv("HVK_FUZZ_INPUTS");
    std::string list = inputs != nullptr && *inputs != '\0' ? inputs : HVK_FUZZ_CORPUS;
    size_t start = 0;
    while (start <= list.size()) {
        const size_t end = list.find(':', start);
        const std::string item = list.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (!item.empty()) {
            collect(item, &files);
        }
        if (end == std::string::npos) {
            break;
        }
        start = end + 1;
    }
    ASSERT_FALSE(files.empty()) << "no inputs found in " << list;
    const uint64_t messages = halide_vk_get_validation_message_count();
    for (const std::string &f : files) {
        const std::vector<uint8_t> data = read_all(f);
        // Like libFuzzer: the input in a heap block of exactly its size.
        uint8_t *copy = static_cast<uint8_t *>(std::malloc(data.empty() ? 1 : data.size()));
        std::copy(data.begin(), data.end(), copy);
        SCOPED_TRACE(f);
        LLVMFuzzerTestOneInput(copy, data.size());
        std::free(copy);
        hvk_test::clear_errors();
        ASSERT_EQ(halide_vk_get_validation_message_count(), messages) << "validation message(s) replaying " << f;
    }
    if (hvk_fuzz_cleanup) {
        hvk_fuzz_cleanup();
    }
    std::printf("replayed %zu input(s)\n", files.size());
}

}  // namespace
