/* test_models.h - small models more than one unit test compiles: a
 * two-layer LSTM regressor with a final state and a long maximum length,
 * and a bidirectional GRU tagger over token ids. */
#ifndef RNNC_TEST_MODELS_H
#define RNNC_TEST_MODELS_H

static const char *const LSTM_SRC = "model m {\n"
                                    "  input  x : seq<[3], 77777>\n"
                                    "  target y : seq<[1]>\n"
                                    "  h    = lstm(x, hidden=8, layers=2)\n"
                                    "  yhat = dense(h, 1)\n"
                                    "  output yhat\n"
                                    "  output hn = final(h)\n"
                                    "  loss = mse(yhat, y)\n"
                                    "}\n";

static const char *const BIDI_SRC = "model b {\n"
                                    "  input  w : seq<int>\n"
                                    "  target t : seq<int>\n"
                                    "  e = embedding(w, vocab=20, dim=4)\n"
                                    "  h = gru(e, hidden=5, bidirectional)\n"
                                    "  logits = dense(h, 3)\n"
                                    "  output probs = softmax(logits)\n"
                                    "  loss = cross_entropy(logits, t)\n"
                                    "}\n";

#endif
