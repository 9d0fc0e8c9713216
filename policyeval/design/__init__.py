"""policyeval.design"""
