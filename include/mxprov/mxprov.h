/* mxprov.h: everything a step plugin needs. */
#pragma once

#include <mxprov/mxprov-abi.h>
#include <mxprov/mxprov-bundle.h>
#include <mxprov/mxprov-context.h>
#include <mxprov/mxprov-error.h>
#include <mxprov/mxprov-http.h>
#include <mxprov/mxprov-matrix.h>
#include <mxprov/mxprov-plugin.h>
#include <mxprov/mxprov-secret.h>
