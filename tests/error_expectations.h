// The error-path check every suite uses: a call must throw E (a qforge::Error
// subclass) whose message contains `needle`, and leave its output untouched.
#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "qforge/error.h"

namespace qforge::testing {

template<typename E = Error, typename T>
void expect_error_untouched(const std::function<void()> &call, const std::string &needle, const std::vector<T> &output,
                            T sentinel) {
    try {
        call();
        ADD_FAILURE() << "no exception; expected one mentioning '" << needle << "'";
    } catch (const E &e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
            << "message '" << e.what() << "' does not mention '" << needle << "'";
    } catch (const std::exception &e) {
        ADD_FAILURE() << "wrong exception type: " << e.what();
    }
    for (const T &v : output) ASSERT_EQ(v, sentinel) << "output was written despite the error";
}

}  // namespace qforge::testing
