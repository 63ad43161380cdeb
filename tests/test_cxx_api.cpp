/* The public header from C++: sbert.h must compile as C++11 with every warning an error
 * (-Wall -Wextra -pedantic -Werror, see the Makefile), and its functions must link with C linkage
 * against libsbert.a. Built and run by `make test` when a C++ compiler is found.
 *
 * What it checks goes through the public API only, as a C++ program would use it: the version
 * macros against the linked library, the error path of a load, size negotiation with std::vector
 * buffers, and the properties of the vectors of the bundled model. */
#include "sbert.h"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "harness.h"

static const char *const kModel = "models/ko-small-f16.sbert"; /* committed; tests run from the root */

static void check_version()
{
    CHECK(std::string(sbert_version()) == SBERT_VERSION_STRING, "linked %s, header %s",
          sbert_version(), SBERT_VERSION_STRING);
    CHECK(SBERT_VERSION_NUMBER ==
              SBERT_VERSION_MAJOR * 10000 + SBERT_VERSION_MINOR * 100 + SBERT_VERSION_PATCH,
          "SBERT_VERSION_NUMBER %d", SBERT_VERSION_NUMBER);
    CHECK(std::strlen(sbert_strerror(SBERT_ERR_IO)) > 0, "empty strerror");
}

static void check_load_error()
{
    sbert_model *model = reinterpret_cast<sbert_model *>(&model); /* must be reset to NULL */
    char err[256] = "";
    const int rc = sbert_model_load("tests/no-such-model.sbert", nullptr, &model, err, sizeof err);
    CHECK(rc == SBERT_ERR_IO, "rc %d (%s)", rc, sbert_strerror(rc));
    CHECK(model == nullptr, "model not reset on failure");
    CHECK(std::strstr(err, "no-such-model.sbert") != nullptr, "message does not name the file: %s",
          err);
    sbert_model_free(nullptr); /* free(NULL)-style */
    sbert_context_free(nullptr);
}

static void check_encode(const sbert_model *model)
{
    sbert_context_params params = sbert_context_default_params();
    params.n_threads = 2;
    sbert_context *ctx = nullptr;
    CHECK(sbert_context_create(model, &params, &ctx, NULL, 0) == SBERT_OK, "context");
    if (!ctx) return;

    const std::string text = "한 남자가 음식을 먹고 있다.";
    size_t n_ids = 0;
    int rc = sbert_tokenize(ctx, text.data(), text.size(), SBERT_TOKENIZE_DEFAULT, nullptr, 0,
                            &n_ids);
    CHECK(rc == SBERT_ERR_BUFFER_TOO_SMALL && n_ids > 2, "asking the size: rc %d, %zu ids", rc,
          n_ids);
    std::vector<int32_t> ids(n_ids);
    CHECK(sbert_tokenize(ctx, text.data(), text.size(), SBERT_TOKENIZE_DEFAULT, ids.data(),
                         ids.size(), &n_ids) == SBERT_OK && n_ids == ids.size(),
          "tokenize: %s", sbert_context_errmsg(ctx));

    const size_t dim = sbert_model_dim(model);
    const char *texts[] = { text.c_str(), "한 남자가 말하고 있다.", text.c_str() };
    std::vector<float> out(3 * dim - 1);
    CHECK(sbert_encode(ctx, texts, nullptr, 3, nullptr, out.data(), out.size()) ==
              SBERT_ERR_BUFFER_TOO_SMALL,
          "one float short must be refused");
    out.resize(3 * dim);
    sbert_encode_options opts = sbert_encode_default_options();
    opts.normalize = 1;
    CHECK(sbert_encode(ctx, texts, nullptr, 3, &opts, out.data(), out.size()) == SBERT_OK,
          "encode: %s", sbert_context_errmsg(ctx));
    double norm = 0;
    bool finite = true;
    for (size_t i = 0; i < dim; i++) {
        norm += static_cast<double>(out[i]) * out[i];
        finite = finite && std::isfinite(out[i]) && std::isfinite(out[dim + i]);
    }
    CHECK(finite, "non-finite component");
    CHECK(std::fabs(norm - 1.0) < 1e-5, "normalized vector has norm^2 %.8f", norm);
    CHECK(std::memcmp(out.data(), out.data() + 2 * dim, dim * sizeof(float)) == 0,
          "the same text gave two vectors");
    const float same = sbert_cosine(out.data(), out.data() + 2 * dim, dim);
    const float other = sbert_cosine(out.data(), out.data() + dim, dim);
    CHECK(std::fabs(same - 1.0f) < 1e-6f && other < same, "cosines %.7f (same), %.7f (other)",
          same, other);
    sbert_context_free(ctx);
}

int main()
{
    check_version();
    check_load_error();
    sbert_model *model = nullptr;
    char err[512] = "";
    CHECK(sbert_model_load(kModel, nullptr, &model, err, sizeof err) == SBERT_OK, "%s", err);
    if (model) {
        CHECK(sbert_model_dim(model) > 0 && std::string(sbert_model_type(model)) == "roberta",
              "dim %zu, type %s", sbert_model_dim(model), sbert_model_type(model));
        check_encode(model);
    }
    sbert_model_free(model);
    return TEST_DONE();
}
