"""policyeval.inference"""
